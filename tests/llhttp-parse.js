'use strict';
// The second opinion for tests/test-llhttp.c: Node's own HTTP parser (llhttp,
// strict: no lenient flag) reads request streams and says what it found.
//   node tests/llhttp-parse.js FILE
// FILE holds records "<length>\n<bytes>"; for each record one line: the
// messages read in order, separated by ";", each
//   M METHOD MINOR FIELDS BODY-START END UPGRADE TARGET-IN-HEX
// (END is -1 when the stream stops inside the message; UPGRADE 1 when llhttp
// takes the rest of the stream for a tunnel), then "R CODE OFFSET"
// if llhttp refused a byte. The bytes are fed one at a time, so that each
// callback knows its offset.
const fs = require('fs');
const { HTTPParser, methods } = require('_http_common');

function parse(buf) {
  const msgs = [];
  const p = new HTTPParser();
  let off = 0, cur = null, headers = [], url = '', stop = false;
  // Heads up to 1 MiB: size limits are not what this compares.
  p.initialize(HTTPParser.REQUEST, {}, 1 << 20, HTTPParser.kLenientNone);
  p[HTTPParser.kOnHeaders] = (h, u) => {
    if (cur === null) {   // before the head ends: the fields come in batches
      headers = headers.concat(h);
      url += u;
    }
  };
  p[HTTPParser.kOnHeadersComplete] = (major, minor, h, method, u, status, reason, upgrade, keep) => {
    h = h || headers;
    u = u || url;
    cur = { m: methods[method], t: Buffer.from(u, 'latin1').toString('hex'), v: minor,
            h: h.length / 2, bs: off + 1, be: -1, up: upgrade ? 1 : 0 };
    msgs.push(cur);
    if (upgrade)
      stop = true;   // a tunnel from here on
    return 0;
  };
  p[HTTPParser.kOnBody] = () => {};
  p[HTTPParser.kOnMessageComplete] = () => {
    cur.be = off + 1;
    cur = null;
    headers = [];
    url = '';
  };
  for (off = 0; off < buf.length && !stop; off++) {
    const r = p.execute(buf.subarray(off, off + 1));
    if (r instanceof Error) {
      msgs.push({ reject: r.code, at: off });
      break;
    }
  }
  return msgs.map((m) => m.reject ? `R ${m.reject} ${m.at}`
                                  : `M ${m.m} ${m.v} ${m.h} ${m.bs} ${m.be} ${m.up} ${m.t || '-'}`).join(';');
}

const data = fs.readFileSync(process.argv[2]);
const out = [];
for (let pos = 0; pos < data.length;) {
  const nl = data.indexOf(10, pos);
  const n = parseInt(data.toString('latin1', pos, nl), 10);
  out.push(parse(Buffer.from(data.subarray(nl + 1, nl + 1 + n))));
  pos = nl + 1 + n;
}
process.stdout.write(out.join('\n') + '\n');
