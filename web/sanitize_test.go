package web

import (
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestSanitizeHTML(t *testing.T) {
	cases := []struct{ in, want string }{
		{`<p>Hello <b>world</b></p>`, `<p>Hello <b>world</b></p>`},
		{`plain & <text>`, `plain &amp; `},
		{`5 < 6 &amp; 7 > 3`, `5 &lt; 6 &amp; 7 &gt; 3`},
		{`<script>window.__pwned=1</script>after`, `after`},
		{`<SCRIPT type="text/javascript">a</sCrIpT >after`, `after`},
		{`<script>document.write("</scr" + "ipt>")</script>x`, `x`},
		{`<style>body{display:none}</style>x`, `x`},
		{`<img src=x onerror="window.__pwned=1">`, `<img src="x">`},
		{`<img src="javascript:alert(1)">`, `<img>`},
		{`<img src="data:image/png;base64,AAAA" alt="dot">`, `<img src="data:image/png;base64,AAAA" alt="dot">`},
		{`<img src="data:image/svg+xml;base64,AAAA">`, `<img>`},
		{`<a href="javascript:alert(1)">x</a>`, `<a target="_blank" rel="noopener noreferrer nofollow">x</a>`},
		{`<a href="java&#x09;script:alert(1)">x</a>`, `<a target="_blank" rel="noopener noreferrer nofollow">x</a>`},
		{"<a href=\" \x01JaVaScRiPt:alert(1)\">x</a>", `<a target="_blank" rel="noopener noreferrer nofollow">x</a>`},
		{`<a href="https://example.com/?a=1&amp;b=2" onclick="x()" target="_self">x</a>`, `<a href="https://example.com/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer nofollow">x</a>`},
		{`<a href="/tasks/1">x</a>`, `<a href="/tasks/1" target="_blank" rel="noopener noreferrer nofollow">x</a>`},
		{`<div style="background:url(javascript:x)" class="lbl-label" id="label-data">x</div>`, `<div>x</div>`},
		{`<svg onload="window.__pwned=1"><script>x</script><circle/></svg>after`, `after`},
		{`<iframe src="https://evil.example"></iframe>x`, `x`},
		{`<object data="x.swf"><embed src="x.swf"></object>x`, `x`},
		{`<form action="/x"><input name="a"><button>go</button></form>`, ``},
		{`<!-- <script>x</script> -->ok`, `ok`},
		{`<!DOCTYPE html><html><head><title>t</title></head><body><p>b</p></body></html>`, `<p>b</p>`},
		{`<p>unclosed <i>italic`, `<p>unclosed <i>italic</i></p>`},
		{`</b>stray end<br/>`, `stray end<br>`},
		{`<table><tr><td colspan="2" onmouseover="x">c</td></tr></table>`, `<table><tr><td colspan="2">c</td></tr></table>`},
		{`<p title='a "quoted" title'>q</p>`, `<p title="a &#34;quoted&#34; title">q</p>`},
		{`<p title=unquoted>q</p>`, `<p title="unquoted">q</p>`},
		{`<p <script>x</script>`, `<p>x</p>`},
		{`<a href="x" href="javascript:y">z</a>`, `<a href="x" target="_blank" rel="noopener noreferrer nofollow">z</a>`},
		{`<math><mi xlink:href="javascript:x">a</mi></math>b`, `b`},
		{`<textarea><img src=x onerror=y></textarea>z`, `z`},
	}
	for _, c := range cases {
		if got := sanitizeHTML(c.in); got != c.want {
			t.Errorf("sanitizeHTML(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// tagPattern is what the sanitizer writes: a start tag with quoted
// attribute values (escaped, so without < > or "), or an end tag. Text
// between tags is escaped, so every < in the output starts one of these.
var (
	tagPattern  = regexp.MustCompile(`^<(/?)([a-z0-9]+)((?:\s[a-z]+="[^"<>]*")*)>$`)
	attrPattern = regexp.MustCompile(`\s([a-z]+)="([^"]*)"`)
	anyTag      = regexp.MustCompile(`<[^>]*>?`)
)

// FuzzSanitizeHTML: whatever the input, the output is text and allowed
// tags with allowed attributes, no event handler, style or script URL, and
// sanitizing it again changes nothing.
func FuzzSanitizeHTML(f *testing.F) {
	for _, s := range []string{
		`<p onclick="x">a</p>`, `<img src=x onerror=y>`, `<a href="javascript:x">`, `<svg><script>x</script></svg>`,
		`<scr<script>ipt>alert(1)</script>`, `<<script>>`, `<a href='java&#10;script:x'>`, `<p title="<script>">`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := sanitizeHTML(in)
		for _, tag := range anyTag.FindAllString(out, -1) {
			m := tagPattern.FindStringSubmatch(tag)
			if m == nil {
				t.Fatalf("sanitizeHTML(%q) = %q: malformed tag %q", in, out, tag)
			}
			extra, ok := allowedTags[m[2]]
			if !ok {
				t.Fatalf("sanitizeHTML(%q) = %q: tag %q is not allowed", in, out, m[2])
			}
			for _, a := range attrPattern.FindAllStringSubmatch(m[3], -1) {
				name, value := a[1], html.UnescapeString(a[2])
				if name == "target" || name == "rel" {
					continue // written by the sanitizer on links
				}
				if _, ok := safeAttr(m[2], name, value, extra); !ok {
					t.Fatalf("sanitizeHTML(%q) = %q: attribute %s=%q", in, out, name, value)
				}
				if name == "href" || name == "src" {
					// net/url, not the sanitizer's own reading, says what
					// the scheme is.
					u, err := url.Parse(value)
					scheme := ""
					if err == nil {
						scheme = strings.ToLower(u.Scheme)
					}
					if err == nil && !slices.Contains([]string{"", "http", "https", "mailto", "data"}, scheme) ||
						scheme == "data" && !strings.HasPrefix(strings.ToLower(value), "data:image/") {
						t.Fatalf("sanitizeHTML(%q) = %q: URL %q", in, out, value)
					}
				}
			}
		}
		if again := sanitizeHTML(out); again != out {
			t.Fatalf("not idempotent:\n in %q\nout %q\nagain %q", in, out, again)
		}
	})
}
