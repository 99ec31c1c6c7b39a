-- bench/post.lua: wrk script for bench/proxy.sh: a small Gemini JSON POST
-- (generateContent) on a keep-alive connection.
wrk.method = "POST"
wrk.path = "/v1beta/models/gemini-2.5-flash:generateContent"
wrk.body = '{"contents":[{"parts":[{"text":"hi"}]}]}'
wrk.headers["Host"] = "generativelanguage.googleapis.com"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-goog-api-key"] = "sk-bench"
