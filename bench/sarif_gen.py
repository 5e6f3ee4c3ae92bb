"""Synthetic, realistic SARIF 2.1.0 logs for the import benchmark.

Shaped like a CodeQL log as GitHub code scanning receives it: one run, a driver with a few hundred rules (each with
``security-severity``, tags, precision, help text and a help URI), ``originalUriBaseIds``, ``artifacts``,
``versionControlProvenance``, and results with a rule reference, a multi-sentence message, a primary location with a
region and a code snippet, a context region, a related location and ``partialFingerprints``: about 2 KB per result,
so 100,000 results make a file of about 200 MB.

Deterministic: the same arguments give the same bytes. Result ``i`` is at file ``i % files``, line ``i // files + 1``,
so every result has its own fingerprint (path, line, rule). ``changed=0.1`` replaces every tenth result by a result at
a line no original result uses: re-importing that file after the original gives 10% new, 10% resolved, 90% unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

TOOL = "CodeQL"
RULE_COUNT = 300
FILE_COUNT = 250
CHANGED_LINE_OFFSET = 1_000_000  # new results of a changed file sit beyond every original line

_CATEGORIES = [
    ("py/sql-injection", "SQL query built from user-controlled sources", "CWE-089", 8.8),
    ("py/command-line-injection", "Uncontrolled command line", "CWE-078", 9.8),
    ("py/path-injection", "Uncontrolled data used in path expression", "CWE-022", 7.5),
    ("py/reflective-xss", "Reflected server-side cross-site scripting", "CWE-079", 6.1),
    ("py/clear-text-logging-sensitive-data", "Clear-text logging of sensitive information", "CWE-312", 7.5),
    ("py/weak-sensitive-data-hashing", "Use of a broken or weak cryptographic hashing algorithm", "CWE-327", 7.5),
    ("py/unsafe-deserialization", "Deserialization of user-controlled data", "CWE-502", 9.8),
    ("py/full-ssrf", "Full server-side request forgery", "CWE-918", 9.1),
    ("py/stack-trace-exposure", "Information exposure through an exception", "CWE-209", 5.4),
    ("py/url-redirection", "URL redirection from remote source", "CWE-601", 6.1),
    ("py/insecure-protocol", "Use of insecure SSL/TLS version", "CWE-327", 7.5),
    ("py/flask-debug", "Flask app is run in debug mode", "CWE-215", 7.5),
    ("py/polynomial-redos", "Polynomial regular expression used on uncontrolled data", "CWE-1333", 7.5),
    ("py/code-injection", "Code injection", "CWE-094", 9.3),
    ("py/xxe", "XML external entity expansion", "CWE-611", 9.1),
    ("py/hardcoded-credentials", "Hard-coded credentials", "CWE-798", 3.9),
    ("py/incomplete-url-substring-sanitization", "Incomplete URL substring sanitization", "CWE-020", 0.0),
]

_WORDS = (
    "request user input value session token handler query cursor execute template render path file open read "
    "write config secret password hash digest cipher socket response header cookie redirect url parse load "
    "deserialize pickle yaml subprocess shell command argument environment variable logger record payload"
).split()

_CODE = [
    '    cursor.execute("SELECT * FROM accounts WHERE owner = \'%s\'" % request.args.get("owner"))',
    "    return subprocess.check_output(request.form['cmd'], shell=True, env=build_env(session))",
    "    with open(os.path.join(UPLOAD_ROOT, request.args['name']), 'rb') as handle:",
    "    return make_response('<p>Hello ' + request.args.get('name', 'stranger') + '</p>')",
    "    logger.info('user %s logged in with password %s', user.name, form.password.data)",
    "    digest = hashlib.md5(password.encode('utf-8')).hexdigest()  # legacy accounts",
    "    profile = pickle.loads(base64.b64decode(request.cookies.get('profile', '')))",
    "    resp = requests.get(request.args['target'], timeout=settings.HTTP_TIMEOUT)",
    "    return jsonify(error=str(exc), trace=traceback.format_exc()), 500",
    "    return redirect(request.args.get('next') or url_for('index'))",
]


def _rule(index: int) -> dict:
    base_id, title, cwe, score = _CATEGORIES[index % len(_CATEGORIES)]
    rule_id = f"{base_id}-{index:03d}"
    score = round(min(10.0, max(0.1, score - (index % 7) * 0.3)), 1)
    return {
        "id": rule_id,
        "name": rule_id.replace("/", "-"),
        "shortDescription": {"text": f"{title} (variant {index})"},
        "fullDescription": {
            "text": f"{title}. Building this operation from user-controlled sources is vulnerable to attack: "
            f"a malicious user can change its meaning. Variant {index} covers a further family of sinks."
        },
        "defaultConfiguration": {"enabled": True, "level": "error" if score >= 7 else "warning"},
        "help": {
            "text": f"# {title}\n\nIf a value reaches this sink without sanitisation, an attacker controls it. "
            "Use the framework's parameterised API, or validate the value against an allow-list first.\n",
            "markdown": f"# {title}\n\nUse the framework's parameterised API.\n",
        },
        "helpUri": f"https://codeql.github.com/codeql-query-help/python/{base_id.split('/')[1]}/",
        "properties": {
            "tags": ["security", f"external/cwe/{cwe.lower()}", "correctness"],
            "description": title,
            "id": rule_id,
            "kind": "path-problem",
            "name": title,
            "precision": ("high", "medium", "very-high")[index % 3],
            "problem.severity": "error" if score >= 7 else "warning",
            "security-severity": f"{score}",
        },
    }


def _file(index: int) -> str:
    return f"src/service_{index % 12:02d}/pkg_{index % 5}/module_{index:03d}.py"


def _message(rng: random.Random, rule: dict, line: int) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(60))
    return (
        f"{rule['shortDescription']['text']}: this expression depends on a [user-provided value](1) that flows "
        f"through {rng.randint(2, 9)} steps before it reaches the sink at line {line}. "
        f"The value is not sanitised on the way. Context: {words}. "
        "Fix it by validating the input against an allow-list, or by using the parameterised form of the API, "
        "so that the data can never change the meaning of the operation."
    )


def _result(i: int, line: int, rules: list[dict], rng: random.Random) -> dict:
    rule_index = (i * 7 + line) % len(rules)
    rule = rules[rule_index]
    file_index = i % FILE_COUNT
    uri = _file(file_index)
    code = _CODE[(i + line) % len(_CODE)]
    snippet = f"{code}\n    {rng.choice(_WORDS)}_{i} = {rng.choice(_WORDS)}({rng.choice(_WORDS)}, {line})\n"
    comment = " ".join(rng.choice(_WORDS) for _ in range(12))
    context = f"def handler_{i}(request):\n    # {comment}\n{snippet}    return None\n"
    line_hash = hashlib.blake2b(f"{uri}:{code}:{i}".encode(), digest_size=8).hexdigest()
    return {
        "ruleId": rule["id"],
        "ruleIndex": rule_index,
        "rule": {"id": rule["id"], "index": rule_index},
        "message": {"text": _message(rng, rule, line)},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%", "index": file_index},
                "region": {"startLine": line, "startColumn": 5, "endLine": line + 1, "endColumn": 61,
                           "snippet": {"text": snippet}},
                "contextRegion": {"startLine": max(1, line - 1), "endLine": line + 2, "snippet": {"text": context}},
            },
        }],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{line_hash}:1",
            "primaryLocationStartColumnFingerprint": "4",
        },
        "relatedLocations": [{
            "id": 1,
            "physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%", "index": file_index},
                "region": {"startLine": max(1, line - 3), "startColumn": 17, "endColumn": 29},
            },
            "message": {"text": "user-provided value"},
        }],
    }


def generate(path: str | os.PathLike, results: int, changed: float = 0.0, seed: int = 1) -> dict:
    """Write a SARIF log of `results` results to `path`; returns {"bytes", "results", "rules", "files"}."""
    rng = random.Random(seed)
    rules = [_rule(i) for i in range(RULE_COUNT)]
    every = round(1 / changed) if changed else 0
    head = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
    }
    run_meta = {
        "tool": {"driver": {"name": TOOL, "organization": "GitHub", "semanticVersion": "2.15.0", "rules": rules}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": []}],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///home/runner/work/app/app/"}},
        "artifacts": [{"location": {"uri": _file(i), "uriBaseId": "%SRCROOT%", "index": i}}
                      for i in range(FILE_COUNT)],
        "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/app",
                                      "revisionId": "0f" * 20, "branch": "refs/heads/main"}],
        "columnKind": "utf16CodeUnits",
        "properties": {"semmle.formatSpecifier": "sarifv2.1.0"},
    }
    path = Path(path)
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        out.write(json.dumps(head)[:-1] + ', "runs": [')
        out.write(json.dumps(run_meta)[:-1] + ', "results": [\n')
        for i in range(results):
            line = i // FILE_COUNT + 1
            if every and i % every == 3 % every:
                line += CHANGED_LINE_OFFSET
            if i:
                out.write(",\n")
            out.write(json.dumps(_result(i, line, rules, rng), separators=(",", ":")))
        out.write("\n]}]}\n")
    return {"bytes": path.stat().st_size, "results": results, "rules": RULE_COUNT, "files": FILE_COUNT}


if __name__ == "__main__":  # a quick look: python bench/sarif_gen.py /tmp/x.sarif 1000
    import sys

    print(generate(sys.argv[1], int(sys.argv[2])))
