package web

// The HyperText sanitizer: task data shown as HTML (Label Studio's
// <HyperText> tag) passes through sanitizeHTML first.
//
// Security-sensitive. The output is built, not filtered: it is made only
// of text (escaped), tags from an allowlist written out by this code, and
// attributes from an allowlist whose values are escaped and, for URLs,
// limited to http, https, mailto and (for images) data:image. So whatever
// the input and however this simple tokenizer reads it, the output holds
// no script, no event handler, no style and no javascript: URL; a misread
// input can only lose or reorder harmless content. The page's
// Content-Security-Policy (no inline script) is the second fence.

import (
	"html"
	"strings"
)

// allowedTags are the elements kept, with the attributes each may carry
// besides the global ones (title, lang, dir). id, class and name are never
// kept: they could clobber the page's own elements (an id="label-data"
// would shadow the labeling page's data) or borrow its controls' classes.
var allowedTags = map[string][]string{
	"a": {"href"}, "abbr": nil, "address": nil, "article": nil, "aside": nil, "b": nil, "bdi": nil, "bdo": nil,
	"blockquote": nil, "br": nil, "caption": nil, "cite": nil, "code": nil, "col": {"span"}, "colgroup": {"span"},
	"dd": nil, "del": nil, "details": nil, "dfn": nil, "div": nil, "dl": nil, "dt": nil, "em": nil,
	"figcaption": nil, "figure": nil, "footer": nil, "h1": nil, "h2": nil, "h3": nil, "h4": nil, "h5": nil, "h6": nil,
	"header": nil, "hr": nil, "i": nil, "img": {"src", "alt", "width", "height"}, "ins": nil, "kbd": nil, "li": {"value"},
	"main": nil, "mark": nil, "nav": nil, "ol": {"start", "reversed"}, "p": nil, "pre": nil, "q": nil, "s": nil,
	"samp": nil, "section": nil, "small": nil, "span": nil, "strong": nil, "sub": nil, "summary": nil, "sup": nil,
	"table": nil, "tbody": nil, "td": {"colspan", "rowspan"}, "tfoot": nil, "th": {"colspan", "rowspan", "scope"},
	"thead": nil, "time": {"datetime"}, "tr": nil, "u": nil, "ul": nil, "var": nil, "wbr": nil,
}

var globalAttrs = []string{"title", "lang", "dir"}

// voidTags have no end tag.
var voidTags = map[string]bool{"br": true, "col": true, "hr": true, "img": true, "wbr": true}

// droppedWithContent are elements whose content is not text to show:
// scripts, styles, frames, embedded objects, forms' raw text and foreign
// (SVG, MathML) content. They go with everything inside them.
var droppedWithContent = map[string]bool{
	"script": true, "style": true, "template": true, "iframe": true, "frame": true, "frameset": true,
	"object": true, "embed": true, "applet": true, "noscript": true, "noembed": true, "noframes": true,
	"textarea": true, "title": true, "xmp": true, "plaintext": true, "svg": true, "math": true,
	"select": true, "button": true, "head": true,
}

// rawText are the elements whose content the HTML parser reads as raw
// text up to the matching end tag, so a "<" inside them is not a tag.
var rawText = map[string]bool{
	"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
	"iframe": true, "noembed": true, "noframes": true, "noscript": true, "plaintext": true,
}

// sanitizeHTML returns the safe subset of an HTML fragment (see the top of
// this file).
func sanitizeHTML(src string) string {
	var out strings.Builder
	var open []string // elements written and not yet closed
	z := htmlTokenizer{src: src}
	skip, skipDepth := "", 0 // inside a dropped element: its name and nesting
	for {
		tok, ok := z.next()
		if !ok {
			break
		}
		if skip != "" {
			switch {
			case tok.kind == tokStart && tok.name == skip && !tok.selfClosing:
				skipDepth++
			case tok.kind == tokEnd && tok.name == skip:
				if skipDepth--; skipDepth == 0 {
					skip = ""
				}
			}
			continue
		}
		switch tok.kind {
		case tokText:
			out.WriteString(html.EscapeString(html.UnescapeString(tok.text)))
		case tokStart:
			if droppedWithContent[tok.name] {
				if rawText[tok.name] {
					z.skipRawText(tok.name)
				} else if !tok.selfClosing {
					skip, skipDepth = tok.name, 1
				}
				continue
			}
			extra, ok := allowedTags[tok.name]
			if !ok {
				continue // unknown element: drop the tag, keep its content
			}
			out.WriteString("<" + tok.name)
			for _, a := range tok.attrs {
				if v, ok := safeAttr(tok.name, a.name, a.value, extra); ok {
					out.WriteString(" " + a.name + `="` + html.EscapeString(v) + `"`)
				}
			}
			if tok.name == "a" {
				// Links open elsewhere, never in place of the labeling page,
				// and give the target no handle on it.
				out.WriteString(` target="_blank" rel="noopener noreferrer nofollow"`)
			}
			out.WriteString(">")
			if !voidTags[tok.name] {
				open = append(open, tok.name)
			}
		case tokEnd:
			for i := len(open) - 1; i >= 0; i-- {
				if open[i] == tok.name {
					for j := len(open) - 1; j >= i; j-- {
						out.WriteString("</" + open[j] + ">")
					}
					open = open[:i]
					break
				}
			}
		}
	}
	for i := len(open) - 1; i >= 0; i-- {
		out.WriteString("</" + open[i] + ">")
	}
	return out.String()
}

// safeAttr returns the value to write for an attribute, and whether to
// write it at all.
func safeAttr(tag, name, value string, extra []string) (string, bool) {
	allowed := false
	for _, a := range globalAttrs {
		allowed = allowed || a == name
	}
	for _, a := range extra {
		allowed = allowed || a == name
	}
	if !allowed {
		return "", false
	}
	switch name {
	case "href":
		return safeURL(value, false)
	case "src":
		return safeURL(value, tag == "img")
	}
	return value, true
}

// safeURL accepts a link or image address: relative, or absolute with the
// scheme http, https or mailto (links), or a data:image of a raster format
// (images). Browsers ignore ASCII whitespace and control characters inside
// a scheme ("java\tscript:"), so those are removed before looking at it,
// and from what is written.
func safeURL(v string, image bool) (string, bool) {
	clean := strings.Map(func(r rune) rune {
		if r <= 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	colon := strings.IndexByte(clean, ':')
	if colon < 0 || strings.ContainsAny(clean[:colon], "/?#") {
		return clean, true // relative
	}
	scheme := strings.ToLower(clean[:colon])
	switch {
	case scheme == "http" || scheme == "https":
		return clean, true
	case scheme == "mailto" && !image:
		return clean, true
	case scheme == "data" && image:
		lower := strings.ToLower(clean)
		for _, t := range []string{"data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;"} {
			if strings.HasPrefix(lower, t) {
				return clean, true
			}
		}
	}
	return "", false
}

// The tokenizer: a small reader of HTML's tag syntax, enough to find
// text, start tags with their attributes and end tags. Comments, doctypes
// and processing instructions are skipped.

type tokenKind int

const (
	tokText tokenKind = iota
	tokStart
	tokEnd
)

type htmlAttr struct{ name, value string }

type htmlToken struct {
	kind        tokenKind
	text        string // tokText
	name        string // lower-case tag name
	attrs       []htmlAttr
	selfClosing bool
}

type htmlTokenizer struct {
	src string
	pos int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func (z *htmlTokenizer) next() (htmlToken, bool) {
	for z.pos < len(z.src) {
		s := z.src[z.pos:]
		if s[0] != '<' {
			end := strings.IndexByte(s, '<')
			if end < 0 {
				end = len(s)
			}
			z.pos += end
			return htmlToken{kind: tokText, text: s[:end]}, true
		}
		switch {
		case strings.HasPrefix(s, "<!--"):
			if end := strings.Index(s[4:], "-->"); end >= 0 {
				z.pos += 4 + end + 3
			} else {
				z.pos = len(z.src)
			}
		case strings.HasPrefix(s, "<!") || strings.HasPrefix(s, "<?"):
			z.skipPast('>')
		case len(s) > 2 && s[1] == '/' && isLetter(s[2]):
			z.pos += 2
			name := z.readName()
			z.skipPast('>')
			return htmlToken{kind: tokEnd, name: name}, true
		case len(s) > 1 && isLetter(s[1]):
			z.pos++
			return z.readStartTag(), true
		default:
			z.pos++
			return htmlToken{kind: tokText, text: "<"}, true
		}
	}
	return htmlToken{}, false
}

// readName reads a tag or attribute name and lower-cases it.
func (z *htmlTokenizer) readName() string {
	start := z.pos
	for z.pos < len(z.src) {
		c := z.src[z.pos]
		if isSpace(c) || c == '/' || c == '>' || (c == '=' && z.pos > start) {
			break
		}
		z.pos++
	}
	return asciiLower(z.src[start:z.pos])
}

func (z *htmlTokenizer) readStartTag() htmlToken {
	tok := htmlToken{kind: tokStart, name: z.readName()}
	for z.pos < len(z.src) {
		c := z.src[z.pos]
		switch {
		case c == '>':
			z.pos++
			return tok
		case c == '/':
			z.pos++
			if z.pos < len(z.src) && z.src[z.pos] == '>' {
				tok.selfClosing = true
			}
		case isSpace(c):
			z.pos++
		default:
			name := z.readName()
			value := ""
			for z.pos < len(z.src) && isSpace(z.src[z.pos]) {
				z.pos++
			}
			if z.pos < len(z.src) && z.src[z.pos] == '=' {
				z.pos++
				for z.pos < len(z.src) && isSpace(z.src[z.pos]) {
					z.pos++
				}
				value = z.readValue()
			}
			if name != "" && !hasAttr(tok.attrs, name) { // the first of a repeated attribute wins, as in browsers
				tok.attrs = append(tok.attrs, htmlAttr{name: name, value: html.UnescapeString(value)})
			}
		}
	}
	return tok
}

func hasAttr(attrs []htmlAttr, name string) bool {
	for _, a := range attrs {
		if a.name == name {
			return true
		}
	}
	return false
}

func (z *htmlTokenizer) readValue() string {
	if z.pos >= len(z.src) {
		return ""
	}
	if q := z.src[z.pos]; q == '"' || q == '\'' {
		z.pos++
		end := strings.IndexByte(z.src[z.pos:], q)
		if end < 0 {
			v := z.src[z.pos:]
			z.pos = len(z.src)
			return v
		}
		v := z.src[z.pos : z.pos+end]
		z.pos += end + 1
		return v
	}
	start := z.pos
	for z.pos < len(z.src) && !isSpace(z.src[z.pos]) && z.src[z.pos] != '>' {
		z.pos++
	}
	return z.src[start:z.pos]
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (z *htmlTokenizer) skipPast(c byte) {
	if end := strings.IndexByte(z.src[z.pos:], c); end >= 0 {
		z.pos += end + 1
	} else {
		z.pos = len(z.src)
	}
}

// skipRawText skips the content of a raw text element and its end tag.
func (z *htmlTokenizer) skipRawText(name string) {
	lower := asciiLower(z.src[z.pos:]) // same length as the source, unlike strings.ToLower
	for i := 0; ; {
		j := strings.Index(lower[i:], "</"+name)
		if j < 0 {
			z.pos = len(z.src)
			return
		}
		after := i + j + 2 + len(name)
		if after >= len(lower) || isSpace(lower[after]) || lower[after] == '>' || lower[after] == '/' {
			z.pos += after
			z.skipPast('>')
			return
		}
		i = after
	}
}
