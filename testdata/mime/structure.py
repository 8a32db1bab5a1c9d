# Prints the MIME structure of the message file argv[1] as Python's email
# package parses it (policy.default), one entity per line, indented by depth:
# content type, Content-ID and filename; then the decoded text/plain body of
# the first text/plain part after a line "--text--".
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    msg = BytesParser(policy=policy.default).parse(f)

def walk(part, depth):
    line = "  " * depth + part.get_content_type()
    cid = part.get("Content-ID")
    if cid:
        line += " id=" + str(cid)
    fn = part.get_filename()
    if fn:
        line += " file=" + fn
    print(line)
    if part.is_multipart():
        for p in part.iter_parts():
            walk(p, depth + 1)

print("Subject: " + str(msg["Subject"]))
walk(msg, 0)
body = msg.get_body(preferencelist=("plain",))
print("--text--")
sys.stdout.write(body.get_content() if body is not None else "")
