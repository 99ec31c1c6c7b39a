-- bench/close.lua: wrk script for bench/proxy.sh: the same POST as post.lua,
-- but with "Connection: close", so every request pays a new TLS handshake
-- (one that resumes: wrk keeps the session of its last connection).
wrk.method = "POST"
wrk.path = "/v1beta/models/gemini-2.5-flash:generateContent"
wrk.body = '{"contents":[{"parts":[{"text":"hi"}]}]}'
wrk.headers["Host"] = "generativelanguage.googleapis.com"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-goog-api-key"] = "sk-bench"
wrk.headers["Connection"] = "close"
