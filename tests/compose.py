#!/usr/bin/python3
# Reads what 'gbca compose' prints the way Docker would, for tests/compose.sh.
#
#   compose.py yaml BUNDLE SERVICE... < override
#       parses the override with yaml.safe_load and checks it field by field;
#       prints each difference, exits 1 if any
#   compose.py docker-run BUNDLE < line
#       splits the line as a POSIX shell does (shlex) and the --mount value as
#       Docker's CSV reader does; checks every flag the same way
#   compose.py container SERVICE GATEWAY < override
#       what Docker would set up for SERVICE, one item a line:
#       "host<TAB>ADDR NAME" (host-gateway replaced by GATEWAY),
#       "mount<TAB>SOURCE<TAB>TARGET<TAB>ro|rw", "env<TAB>NAME=VALUE"
#   compose.py bundle SYSTEM ROOT CONTAINER
#       the certificates (as DER) of the three PEM files compared: prints
#       "system=N container=M root=K order=yes|no", K the root's copies
import base64
import csv
import re
import shlex
import sys

NAME = "generativelanguage.googleapis.com"
TARGET = "/etc/gbca/ca.pem"
VARS = ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]


def interpolate(s):
    """Compose's interpolation of a value with no variables: $$ is one $;
    any other $ would start a variable, which gbca must never leave."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$":
            if s[i + 1:i + 2] != "$":
                raise ValueError("a lone $ in %r: compose would read a variable" % s)
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out)


def check_yaml(bundle, services):
    import yaml
    doc = yaml.safe_load(sys.stdin)
    errors = []

    def want(what, got, expected):
        if got != expected:
            errors.append("%s: got %r, want %r" % (what, got, expected))

    want("top-level keys", list(doc), ["services"])
    want("service names (as strings, in order)", list(doc["services"]), services)
    for name, svc in doc["services"].items():
        want("%r keys" % name, sorted(svc), ["environment", "extra_hosts", "volumes"])
        want("%r extra_hosts" % name, svc.get("extra_hosts"), [NAME + ":host-gateway"])
        vols = svc.get("volumes") or [{}]
        want("%r volumes count" % name, len(vols), 1)
        v = dict(vols[0])
        try:
            v["source"] = interpolate(v.get("source", ""))
        except ValueError as e:
            errors.append(str(e))
        want("%r volume" % name, v, {"type": "bind", "source": bundle, "target": TARGET, "read_only": True})
        want("%r environment" % name, svc.get("environment"), {k: TARGET for k in VARS})
    for e in errors:
        print(e)
    return 1 if errors else 0


def check_docker_run(bundle):
    text = sys.stdin.read()
    errors = []
    if text.count("\n") != 1 or not text.endswith("\n"):
        errors.append("not one line: %r" % text)
    args = shlex.split(text)
    want = ["--add-host", NAME + ":host-gateway", "--mount", None]
    for k in VARS:
        want += ["-e", "%s=%s" % (k, TARGET)]
    if len(args) != len(want):
        errors.append("%d words, want %d: %r" % (len(args), len(want), args))
    for i, (g, w) in enumerate(zip(args, want)):
        if w is not None and g != w:
            errors.append("word %d: got %r, want %r" % (i, g, w))
    if len(args) > 3:
        fields = next(csv.reader([args[3]]))
        expected = ["type=bind", "source=" + bundle, "target=" + TARGET, "readonly"]
        if fields != expected:
            errors.append("--mount fields: got %r, want %r" % (fields, expected))
    for e in errors:
        print(e)
    return 1 if errors else 0


def container(service, gateway):
    import yaml
    svc = yaml.safe_load(sys.stdin)["services"][service]
    for h in svc["extra_hosts"]:
        name, addr = h.split(":", 1)
        print("host\t%s %s" % (gateway if addr == "host-gateway" else addr, name))
    for v in svc["volumes"]:
        print("mount\t%s\t%s\t%s" % (interpolate(v["source"]), v["target"], "ro" if v.get("read_only") else "rw"))
    for k, val in svc["environment"].items():
        print("env\t%s=%s" % (k, val))
    return 0


def certs(path):
    pem = open(path, encoding="latin-1").read()
    return [base64.b64decode(b) for b in
            re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", pem, re.S)]


def bundle(system, root, cont):
    s, r, c = certs(system), certs(root), certs(cont)
    order = c == s + r or (r[0] in s and c == s)
    print("system=%d container=%d root=%d order=%s" % (len(s), len(c), c.count(r[0]), "yes" if order else "no"))
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "yaml":
        sys.exit(check_yaml(args[0], args[1:]))
    if cmd == "docker-run":
        sys.exit(check_docker_run(args[0]))
    if cmd == "container":
        sys.exit(container(args[0], args[1]))
    if cmd == "bundle":
        sys.exit(bundle(*args))
    sys.exit("unknown command %s" % cmd)
