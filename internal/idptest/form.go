package idptest

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// The IdPs' pages are simple, machine-generated HTML; these patterns read
// the forms on them the way a browser submits them, without an HTML
// parser dependency.
var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form\s*>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?`)
	tagRE   = regexp.MustCompile(`(?is)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

type input struct{ typ, name, value string }

type form struct {
	action string
	method string
	inputs []input
}

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(a[1])
		if _, dup := m[name]; dup {
			continue
		}
		m[name] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

// parseForms returns the forms on a page, with actions resolved against
// the page's URL.
func parseForms(body, pageURL string) []form {
	base, _ := url.Parse(pageURL)
	var forms []form
	for _, fm := range formRE.FindAllStringSubmatch(body, -1) {
		fa := attrs(fm[1])
		action := pageURL
		if a, ok := fa["action"]; ok && a != "" && base != nil {
			if u, err := base.Parse(a); err == nil {
				action = u.String()
			}
		}
		f := form{action: action, method: strings.ToUpper(fa["method"])}
		for _, im := range inputRE.FindAllStringSubmatch(fm[2], -1) {
			ia := attrs(im[1])
			typ := strings.ToLower(ia["type"])
			if typ == "" {
				typ = "text"
			}
			f.inputs = append(f.inputs, input{typ: typ, name: ia["name"], value: ia["value"]})
		}
		forms = append(forms, f)
	}
	return forms
}

func (f form) value(name string) string {
	for _, in := range f.inputs {
		if in.name == name {
			return in.value
		}
	}
	return ""
}

func formWith(forms []form, name string) (form, bool) {
	for _, f := range forms {
		for _, in := range f.inputs {
			if in.name == name {
				return f, true
			}
		}
	}
	return form{}, false
}

func loginForm(forms []form) (form, bool) {
	for _, f := range forms {
		for _, in := range f.inputs {
			if in.typ == "password" {
				return f, true
			}
		}
	}
	return form{}, false
}

// fill returns the values a browser would submit with the password field
// set to password and the first text (or email) field to username.
func (f form) fill(username, password string) map[string][]string {
	vals := map[string][]string{}
	userDone := false
	for _, in := range f.inputs {
		if in.name == "" {
			continue
		}
		switch in.typ {
		case "password":
			vals[in.name] = append(vals[in.name], password)
		case "text", "email":
			v := in.value
			if !userDone {
				v, userDone = username, true
			}
			vals[in.name] = append(vals[in.name], v)
		case "hidden":
			vals[in.name] = append(vals[in.name], in.value)
		}
		// checkboxes, radios and submit buttons are left out: the IdPs
		// here need none of them.
	}
	return vals
}

func encodeForm(m map[string][]string) string { return url.Values(m).Encode() }

// excerpt is a page's visible text, shortened, for error messages.
func excerpt(body string) string {
	s := strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(body, " ")), " "))
	// SimpleSAMLphp's error page buries the reason after a backtrace.
	if i := strings.Index(s, "Caused by:"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}
