#!/usr/bin/env python3
"""gen_mime_msgs.py - synthetic messages for differential tests of msgview.

usage: gen_mime_msgs.py {plain|hostile} SEED COUNT OUTDIR

Writes COUNT random messages (OUTDIR/NNNNN.txt) built from the constructs
msgview must view as SpamAssassin does: "plain" mixes charsets, RFC 2047
words, QP/base64, nested multiparts, message/rfc822 and HTML with styles,
entities and links; "hostile" adds broken boundaries, headers without
colons, long lines, blank-line runs, NULs, CR/LF mixes, unterminated
markup, marked sections and literal-mode tags.  Compare them with
  cmp_views.py --data $(dirname OUTDIR) --groups $(basename OUTDIR)
No corpus data is read."""
import base64
import os
import quopri
import random
import sys


def plain(R):
    words = ["hello", "caf\u00e9", "na\u00efve", "\u4e2d\u6587", "\u0442\u0435\u0441\u0442", "free!!!", "click", "here", "\u2019quote\u2019", "a\u00a0b", "x\u2003y", "\u00fcber", "test", "$100", "www.example.com", "http://spam.example.net/x?a=1&b=2", "mailto:a@b.org", "<b>", "&amp;", "viagra"]
    charsets = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "koi8-r", "iso-8859-15", "big5", "gb2312", "shift_jis", "iso-2022-jp", "utf-16", "x-unknown", "UTF-8", "latin1"]
    def text(n):
        return " ".join(R.choice(words) for _ in range(n))
    def enc_text(t, cs):
        try:
            return t.encode(cs)
        except Exception:
            return t.encode('utf-8', 'replace') if R.random() < 0.5 else t.encode('latin-1', 'replace')
    def ew(t):
        cs = R.choice(["utf-8", "iso-8859-1", "koi8-r", "gb2312", "x-unknown", "UTF-8*en"])
        b = enc_text(t, cs.split('*')[0] if cs.split('*')[0] not in ('x-unknown',) else 'latin-1')
        if R.random() < 0.5:
            return "=?%s?B?%s?=" % (cs, base64.b64encode(b).decode())
        q = ''.join(chr(c) if (48 <= c < 123 and chr(c) not in '=?_') else ('_' if c == 32 else '=%02X' % c) for c in b)
        return "=?%s?Q?%s?=" % (cs, q)
    tags = ["p", "br", "div", "span", "b", "i", "font", "td", "tr", "table", "li", "a", "img", "title", "style", "script", "h1", "blockquote", "pre", "xmp", "textarea", "o:p", "center", "x-foo"]
    def html(depth=0):
        parts = []
        for _ in range(R.randint(1, 12)):
            r = R.random()
            if r < 0.35:
                t = text(R.randint(1, 6))
                if R.random() < 0.3: t = t.replace(" ", "&nbsp;")
                if R.random() < 0.2: t += R.choice(["&eacute;", "&#8217;", "&#x41;", "&amp", "&ampx", "&copy", "&#150;", "&lt;", "&rsquo;", "&notit;", "&#0;", "&#99999999;"])
                parts.append(t)
            elif r < 0.8:
                tg = R.choice(tags)
                attrs = ""
                if tg == "font": attrs = R.choice([' color="#ffffff"', ' color=red size=1', ' size="+2" face="Arial"', ' color="#fefefe"', ' color=invalidx'])
                if tg == "a": attrs = R.choice([' href="http://x.example.com/p?q=1&amp;r=2"', ' href=rel/x.html', ' href', ' HREF="mailto:z@y.com"', ''])
                if tg == "img": attrs = R.choice([' src="i.gif" width=10 height=20', ' src=/p.png', ' width="50%" height=3'])
                if tg in ("span", "div", "p", "td"): attrs = R.choice(['', ' style="display:none"', ' style="color: #fff; background-color: #fff"', ' style="visibility: hidden"', ' style="color:rgb(255,255,255)"', ' style="font-size:1px"'])
                if tg in ("table", "td", "body"): attrs += R.choice(['', ' background="bg.jpg"', ' bgcolor=black'])
                inner = html(depth + 1) if depth < 3 and R.random() < 0.5 else text(R.randint(0, 4))
                close = "</%s>" % tg if R.random() < 0.8 else ""
                parts.append("<%s%s>%s%s" % (tg, attrs, inner, close))
            elif r < 0.85:
                parts.append("<!-- %s -->" % text(2))
            elif r < 0.9:
                parts.append(R.choice(["<br/>", "<hr />", "</div>", "<", "a < b", "<![if !x]>", "<![endif]>", "<!DOCTYPE html>", "<?xml x?>", "</>", "<base href=\"http://base.example.org/d/i.html\">", "<meta http-equiv=refresh content=\"0; url=http://r.example.com/\">"]))
            else:
                parts.append(R.choice(["\n", "\n\n", "  ", "\t", "\u00a0", "\r\n"]))
        return "".join(parts)
    def leaf():
        typ = R.choice(["text/plain", "text/html", "text/html", "application/octet-stream", "text/enriched", "image/gif", "message/delivery-status", "text/calendar"])
        cs = R.choice(charsets)
        body = html() if typ == "text/html" else text(R.randint(3, 40)) + R.choice(["\n", "\n\n", "\n  \n", ""]) + text(R.randint(0, 20))
        if R.random() < 0.2:
            body = ("<html><body>" + body + "</body></html>") if typ == "text/html" else body
        b = enc_text(body, cs if cs not in ('x-unknown',) else 'latin-1')
        cte = R.choice(["7bit", "8bit", "quoted-printable", "base64", "Base64", "x-uuencode", ""])
        if cte == "quoted-printable":
            b = quopri.encodestring(b)
        elif cte.lower() == "base64":
            b = base64.encodebytes(b)
            if R.random() < 0.1: b = b[:-7] + b"!!@@\n"
        h = "Content-Type: %s; charset=%s%s\n" % (typ, R.choice(['"%s"' % cs, cs]), R.choice(['', '; name="x.html"', '; name=a.txt']))
        if cte: h += "Content-Transfer-Encoding: %s\n" % cte
        if R.random() < 0.2: h += "Content-Disposition: attachment; filename=\"f%s\"\n" % R.choice([".htm", ".txt", ".shtml"])
        return h.encode() + b"\n" + b
    def multipart(depth):
        bnd = "b%d_%d" % (depth, R.randint(0, 999))
        sub = R.choice(["mixed", "alternative", "related", "digest"])
        parts = []
        for _ in range(R.randint(1, 4)):
            if depth < 3 and R.random() < 0.3:
                parts.append(multipart(depth + 1))
            elif R.random() < 0.1:
                parts.append(b"Content-Type: message/rfc822\n\n" + headers() + b"\n" + leaf().split(b"\n\n", 1)[1])
            else:
                parts.append(leaf())
        body = R.choice([b"", b"preamble\n"])
        for p in parts:
            body += b"--" + bnd.encode() + b"\n" + p + b"\n"
        body += b"--" + bnd.encode() + b"--\n" + R.choice([b"", b"epilogue\n"])
        return ("Content-Type: multipart/%s; boundary=\"%s\"\n" % (sub, bnd)).encode() + b"\n" + body
    def headers():
        h = []
        h.append("From: %s" % R.choice(['"%s" <a@example.com>' % text(2), 'a@example.co.uk (Comment)', ew(text(2)) + ' <x@y.org>', 'plain@host.example', '<>', 'Bad, Name <b@c.com>']))
        h.append("To: %s" % R.choice(['a@b.com, c@d.org', 'undisclosed-recipients:;', '"X, Y" <x@y.com>', 'u@v.com (a (b) c)']))
        h.append("Subject: %s" % R.choice([text(4), ew(text(3)) + " " + ew(text(2)), text(2) + " " + ew(text(2)), enc_text(text(3), 'utf-8').decode('latin-1')]))
        if R.random() < 0.5: h.append("Message-ID: <%d@%s>" % (R.randint(0, 10**6), R.choice(["host.example.com", "localhost", "[1.2.3.4]"])))
        if R.random() < 0.5: h.append("Received: from a.example.net (a.example.net [198.51.100.%d])\n\tby mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000" % R.randint(1, 254))
        if R.random() < 0.2: h.append("X-Spam-Flag: YES")
        if R.random() < 0.2: h.append("Return-Path: <r@example.com>")
        if R.random() < 0.2: h.append("X-Originating-IP: [10.%d.0.1]" % R.randint(0, 255))
        return ("\n".join(h) + "\n").encode('latin-1', 'replace')
    def one(i):
        m = headers() + b"MIME-Version: 1.0\n"
        if R.random() < 0.6:
            m += multipart(0)
        else:
            m += leaf()
        if R.random() < 0.15:
            m = m.replace(b"\n", b"\r\n")
        return m

    return one


def hostile(R):
    W = ["hello", "caf\u00e9", "\u4e2d", "x\u2003y", "a\u00a0b", "\u2028", "\u0085", "www.ex.com", "http://u.example.com/a b", "&amp;", "&#160;", "&nbsp", "<", ">", "\"", "'", "=", "--", "]]>", "\t", "  ", "\x00", "\x0b", "\x0c", "z" * 30]
    def t(n): return "".join(R.choice(W) + R.choice([" ", "", "\n", "\n\n", "\n \n", "\r\n"]) for _ in range(n))
    HT = ["<p>", "</p>", "<br>", "<br/>", "<div style='display:none'>", "</div>", "<a href='x.html' href=y>", "<a href=\"unterminated>", "</a>", "<font color=#ffffff>", "</font>", "<![CDATA[ cdata & ]]>", "<![if x]>", "<![endif]>", "<![ignore[ hidden ]]>", "<!-- c -- x -->", "<!-->", "<!---->", "<!x y>", "<!DOCTYPE html PUBLIC \"-//W3C\" >", "<? pi ?>", "</ foo>", "</p x=\">\">", "<title>", "</title>", "<textarea>", "</textarea>", "<script>", "</script >", "<style>", "</STYLE>", "<plaintext>", "<iframe src=f.html>", "</iframe>", "<img src=a.gif width=50% height=10>", "<base href=http://b.example.org/x/>", "<body background=b.jpg bgcolor=red text=white>", "<table bgcolor=#000><tr><td style='color:#000;background-color:#000'>", "</td></tr></table>", "<span style='color: rgb(1,2,3) !important'>", "</span>", "<big>", "<small><small><small>", "</small>", "<basefont size=1>", "<o:p>", "</o:p>", "<li>", "<h1>", "</h1>", "<hr/>", "<a href=\"http://x.example.com/&#x41;&amp;&copy=1\">", "<form action='mailto:a@b.c'>", "<meta http-equiv=refresh content='5; URL=http://m.example.com/'>", "<area href=a.html>", "<link href=l.css>", "<embed src=e.swf>", "<frame src=fr.html>", "<bgsound src=s.wav>", "<a x/href=bad.html>", "<img x/src=bad.png>", "<a data-saferedirecturl=http://sr.example.com/>", "&eacute;", "&rsquo;", "&#x2019;", "&#xD83D;&#xDE00;", "&#65279;", "&euro", "&lt", "&gtx", "<", "<<b>", "a<b", "< b", "</", "<!", "<a", "\u201chttp://q.example.com/\u201d", "<a href=\u201dhttp://q2.example.com/\u201d>"]
    def html(): return "".join(R.choice(HT) if R.random() < 0.5 else t(R.randint(1, 4)) for _ in range(R.randint(3, 40)))
    def leaf():
        typ = R.choice(["text/plain", "text/html", "text/html", "TEXT/HTML", "text", "text/plain;", "", "multipart/mixed", "message/rfc822", "message/partial"])
        cs = R.choice(["utf-8", "iso-8859-1", "us-ascii", "utf-16le", "utf-16", "iso-2022-jp", "windows-1252", "\"\"", "x"])
        body = html() if "html" in typ.lower() else t(R.randint(1, 30))
        if R.random() < 0.1: body += "x" * R.randint(2040, 5000)
        if R.random() < 0.1: body += "\n" * R.randint(19, 30) + "after blanks"
        enc = 'utf-8' if cs in ('utf-8', '"', 'x', '""') else ('latin-1' if cs not in ('utf-16le', 'utf-16', 'iso-2022-jp') else cs if cs != 'utf-16' else 'utf-16-le')
        try: b = body.encode(enc)
        except Exception: b = body.encode('utf-8')
        cte = R.choice(["", "quoted-printable", "base64", "QUOTED-PRINTABLE", "base64 ", "7bit"])
        if cte.strip().lower() == "quoted-printable": b = quopri.encodestring(b)
        if cte.strip().lower() == "base64": b = base64.encodebytes(b)
        h = ""
        if typ or R.random() < 0.5: h += "Content-Type: %s charset=%s\n" % (typ + (";" if R.random() < 0.8 else ""), cs)
        if cte: h += "Content-Transfer-Encoding: %s\n" % cte
        if R.random() < 0.05: h += "  continued: line\n"
        sep = b"\n" if R.random() < 0.95 else b""
        return h.encode() + sep + b
    def mp(d):
        bnd = R.choice(["b%d" % d, "b=%d" % d, "same", "'q%d'" % d, "b %d" % d, "x" * 70])
        q = R.choice(['"%s"' % bnd, bnd])
        parts = [mp(d + 1) if d < 4 and R.random() < 0.3 else leaf() for _ in range(R.randint(0, 4))]
        body = R.choice([b"", b"preamble\n", b"--notboundary\n"])
        for p in parts:
            body += b"--" + bnd.encode() + R.choice([b"", b"  ", b"\t"]) + b"\n" + p + b"\n"
        if R.random() < 0.8: body += b"--" + bnd.encode() + b"--" + R.choice([b"", b" "]) + b"\n"
        body += R.choice([b"", b"epi\n", b".\n"])
        return ("Content-Type: multipart/%s; boundary=%s\n" % (R.choice(["mixed", "alternative", "digest", "related"]), q)).encode() + R.choice([b"\n", b"\n", b""]) + body
    def hdrs():
        h = [R.choice(["From: a@b.example.com", "From: \"\" <>", "From:", "From: x", "from: Y <y@z.example.org>", "From: =?utf-8?B?w6k=?= <e@e.example.com>"]),
             R.choice(["Subject: " + t(2).replace("\n", " "), "Subject:", "Subject: =?utf-8?q?a?=\n =?utf-8?q?b?=", "Subject: =?iso-8859-1*fr?q?=E9?="]),
             R.choice(["To: a@b.com", "To: a@b.com,,c@d.com", "To: <a@b.com> <c@d.com>", "To: \"q\\\"x\" <q@x.example.com>"])]
        if R.random() < 0.3: h.append("no colon header line")
        if R.random() < 0.2: h.append("X-Spam-Relays-Trusted: fake")
        if R.random() < 0.2: h.append("Received: from h (h [10.0.0.%d]) by x; Mon, 1 Jan 2024" % R.randint(1, 9))
        if R.random() < 0.1: h.append("K" * 300 + ": long key")
        R.shuffle(h)
        return "\n".join(h) + "\n"
    def one(i):
        m = hdrs().encode('utf-8')
        m += mp(0) if R.random() < 0.6 else leaf()
        r = R.random()
        if r < 0.1: m = m.replace(b"\n", b"\r\n")
        elif r < 0.15: m = m.replace(b"\n", b"\r\n", R.randint(1, 5))
        if R.random() < 0.05: m = b"From sender@x Mon Jan  1 00:00:00 2024\n" + m
        return m

    return one


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ('plain', 'hostile'):
        sys.exit(__doc__)
    R = random.Random(int(sys.argv[2]))
    one = (plain if sys.argv[1] == 'plain' else hostile)(R)
    os.makedirs(sys.argv[4], exist_ok=True)
    for i in range(int(sys.argv[3])):
        with open(os.path.join(sys.argv[4], '%05d.txt' % i), 'wb') as f:
            f.write(one(i))


if __name__ == '__main__':
    main()
