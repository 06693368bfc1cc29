package labeling

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

// Config is a parsed Label Studio labeling configuration: the object tags
// that show task data and the control tags whose answers make up an
// annotation's result. Layout tags (View, Header, Style, ...) shape the page
// only and are not kept.
type Config struct {
	Objects  []Object  // in document order
	Controls []Control // in document order
	// Layout lists what a labeling page shows, in document order: the
	// headers outside controls, the object tags and the control tags.
	// Nesting (View, Collapse, Panel) is flattened.
	Layout []Block
}

// Block is one entry of Config.Layout: exactly one of Header (the text of
// a <Header>), Object or Control (an index into Objects or Controls, -1
// when not this kind) is set.
type Block struct {
	Header  string
	Object  int
	Control int
}

// Object is an object tag (Text, HyperText, Image): it shows one field of
// the task data.
type Object struct {
	Tag   string // "Text", "HyperText" or "Image", spelled so whatever the config's case
	Name  string
	Value string // as written: "$text" binds task data, anything else is shown as is
	// DataKey is the task data field that Value binds ("text" for "$text"),
	// or "" when Value is not a single $field reference.
	DataKey string
	Attrs   Attrs
	Line    int
}

// Control is a control tag: it produces result items whose from_name is
// its Name and whose to_name is its ToName.
type Control struct {
	Tag    string // "Choices", "Labels", "HyperTextLabels", "RectangleLabels", "TextArea" or "Rating"
	Name   string
	ToName string // the object tag it labels
	// Choice is "single", "single-radio" or "multiple" for Choices and
	// "single" or "multiple" for the *Labels tags (Label Studio's
	// defaults filled in); "" for TextArea and Rating.
	Choice   string
	Required bool
	// PerRegion controls answer for each region rather than for the task.
	PerRegion bool
	// Conditional is true when the control, or a View around it, has a
	// visibleWhen condition: it is shown only sometimes, so Required is
	// not enforced on whole results.
	Conditional bool
	// Labels holds the values of the nested Choice or Label tags (the
	// alias where one is given, as that is what results carry), in order,
	// without repeats.
	Labels []string
	// Options are the nested Choice or Label tags with what a labeling
	// page needs of them, in order, one per value in Labels.
	Options   []Option
	MaxRating int // Rating only; Label Studio's default is 5
	Attrs     Attrs
	Line      int
}

// Option is a Choice or Label of a control.
type Option struct {
	Value      string // what results carry: the alias if given, else the value
	Text       string // what the page shows: the value
	Hotkey     string // Label Studio's hotkey attribute, as written ("1", "shift+p"); "" if none
	Background string // the Label's background colour, as written; "" if none
}

// Type is the result type of the control's answers: its tag in lower case,
// as Label Studio writes it ("choices", "rectanglelabels", ...).
func (c *Control) Type() string { return strings.ToLower(c.Tag) }

// Attrs holds a tag's attributes as written, including the many that
// Glossa does not interpret (hotkey, background, showInline, zoom, ...).
type Attrs map[string]string

// Get returns the attribute named name in any case ("toName", "toname"),
// as Label Studio's editor reads them, or "".
func (a Attrs) Get(name string) string {
	if v, ok := a[name]; ok {
		return v
	}
	for k, v := range a {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Limits on a labeling configuration; maxConfigBytes is ValidateConfig's.
const (
	maxConfigDepth    = 100
	maxReportedIssues = 20
)

// ConfigProblem is one thing wrong with a labeling configuration.
type ConfigProblem struct {
	Line    int    // 1-based; 0 when the problem is not at one place
	Tag     string // the tag as the message shows it, e.g. <Choices name="sentiment">; "" when none
	Message string
}

func (p ConfigProblem) String() string {
	switch {
	case p.Line > 0 && p.Tag != "":
		return fmt.Sprintf("line %d, %s: %s", p.Line, p.Tag, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// ConfigError lists every problem ParseConfig found, in document order. The
// *glossa.Error that ParseConfig returns wraps it, for callers that want to
// point at lines (errors.As).
type ConfigError struct {
	Problems []ConfigProblem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return joinProblems("label_config", lines)
}

// joinProblems words a list of problems as one message: the problem itself
// when there is one, a count and one problem a line otherwise.
func joinProblems(subject string, lines []string) string {
	if len(lines) == 1 {
		return subject + ": " + lines[0]
	}
	shown := lines
	if len(shown) > maxReportedIssues {
		shown = shown[:maxReportedIssues]
	}
	msg := fmt.Sprintf("%s has %d problems:\n%s", subject, len(lines), strings.Join(shown, "\n"))
	if more := len(lines) - len(shown); more > 0 {
		msg += fmt.Sprintf("\n... and %d more", more)
	}
	return msg
}

// tagKind sorts the tags Glossa understands.
type tagKind int

const (
	kindLayout   tagKind = iota // View, Header, Style, Collapse, Panel: page layout, no data
	kindObject                  // shows task data
	kindControl                 // produces results
	kindOption                  // Choice or Label, inside its control
	kindShortcut                // Shortcut, inside TextArea
	kindFilter                  // Filter: a search box over another control's labels
)

// tagSpec describes one supported tag.
type tagSpec struct {
	name string // canonical spelling
	kind tagKind
	// For controls: the option tag they list ("Choice", "Label"), the
	// object tags they may label (nil for any), the allowed values of
	// choice= (nil when the tag has none).
	option  string
	objects []string
	choices []string
}

// tagSpecs lists the supported tags in the order the unknown-tag message
// names them. Harmless layout tags that Label Studio configs commonly carry
// are accepted and ignored; everything else is refused, because a tag we do
// not understand produces results we could not validate.
var tagSpecs = []*tagSpec{
	{name: "View", kind: kindLayout},
	{name: "Header", kind: kindLayout},
	{name: "Style", kind: kindLayout},
	{name: "Collapse", kind: kindLayout},
	{name: "Panel", kind: kindLayout},
	{name: "Filter", kind: kindFilter},
	{name: "Text", kind: kindObject},
	{name: "HyperText", kind: kindObject},
	{name: "Image", kind: kindObject},
	{name: "Choices", kind: kindControl, option: "Choice", choices: []string{"single", "single-radio", "multiple"}},
	{name: "Choice", kind: kindOption},
	{name: "Labels", kind: kindControl, option: "Label", objects: []string{"Text", "HyperText"}, choices: []string{"single", "multiple"}},
	{name: "HyperTextLabels", kind: kindControl, option: "Label", objects: []string{"HyperText"}, choices: []string{"single", "multiple"}},
	{name: "RectangleLabels", kind: kindControl, option: "Label", objects: []string{"Image"}, choices: []string{"single", "multiple"}},
	{name: "Label", kind: kindOption},
	{name: "TextArea", kind: kindControl},
	{name: "Shortcut", kind: kindShortcut},
	{name: "Rating", kind: kindControl},
}

// lookupTag finds a tag's spec by name in any case: Label Studio's editor
// lower-cases tag names, so <view> works there too.
func lookupTag(name string) *tagSpec {
	for _, s := range tagSpecs {
		if strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

func supportedTags() string {
	names := make([]string, len(tagSpecs))
	for i, s := range tagSpecs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// ParseConfig parses and checks a Label Studio labeling configuration: XML
// with one root <View>, object tags bound to task data with value="$field",
// control tags whose toName names an object tag of a kind they can label,
// names unique. It reports every problem it finds at once, each with its
// line and tag, in a *glossa.Error with code EUNPROCESSABLE (the code
// ValidateConfig uses for a bad label_config) wrapping a *ConfigError;
// a configuration over 1 MiB is ETOOLARGE.
//
// Security: the configuration comes from users. DOCTYPE declarations (and
// with them entity definitions) are refused, undefined entities are a
// syntax error, and size and nesting depth are bounded.
func ParseConfig(config string) (*Config, error) {
	if strings.TrimSpace(config) == "" {
		return nil, glossa.Errorf(glossa.EUNPROCESSABLE, "label_config is empty: give a configuration such as <View><Text name=\"text\" value=\"$text\"/></View>.")
	}
	if len(config) > maxConfigBytes {
		return nil, glossa.Errorf(glossa.ETOOLARGE, "label_config is larger than 1 MiB.")
	}
	p := &configParser{cfg: &Config{}, names: map[string]namedTag{}}
	p.parse(config)
	p.check()
	if len(p.problems) > 0 {
		// Checks made at the end (toName, empty controls) come after the
		// ones made while reading; show them all in document order.
		slices.SortStableFunc(p.problems, func(a, b ConfigProblem) int { return a.Line - b.Line })
		e := &ConfigError{Problems: p.problems}
		return nil, glossa.Wrap(glossa.EUNPROCESSABLE, e, e.Error())
	}
	return p.cfg, nil
}

// configParser reads a configuration token by token.
type configParser struct {
	cfg      *Config
	problems []ConfigProblem
	stack    []frame
	names    map[string]namedTag
	filters  []filterTag
	roots    int
	skip     int // depth inside a subtree being skipped
}

// frame is an open element.
type frame struct {
	spec        *tagSpec
	control     int // index in cfg.Controls of the enclosing control, or -1
	conditional bool
	tag         string // as shown in messages
	header      int    // for a Header outside controls: its index in cfg.Layout; else -1
}

type namedTag struct {
	tag  string
	line int
}

type filterTag struct {
	toName, tag string
	line        int
}

func (p *configParser) problem(line int, tag, format string, args ...any) {
	p.problems = append(p.problems, ConfigProblem{Line: line, Tag: tag, Message: fmt.Sprintf(format, args...)})
}

func (p *configParser) parse(config string) {
	dec := xml.NewDecoder(strings.NewReader(config))
	for {
		// The position before the token is where its '<' starts: after
		// the token it would be the end of a start tag that may span
		// several lines.
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				p.problem(se.Line, "", "not valid XML: %s", se.Msg)
			} else {
				p.problem(line, "", "could not be read as UTF-8 XML")
			}
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(p.stack)+p.skip >= maxConfigDepth {
				p.problem(line, "", "elements are nested more than %d deep", maxConfigDepth)
				return
			}
			p.start(t, line)
		case xml.EndElement:
			if p.skip > 0 {
				p.skip--
			} else {
				p.stack = p.stack[:len(p.stack)-1]
			}
		case xml.CharData:
			if len(p.stack) == 0 && p.skip == 0 && strings.TrimSpace(string(t)) != "" {
				p.problem(line, "", "text outside the <View> element")
			}
			if n := len(p.stack); n > 0 && p.skip == 0 && p.stack[n-1].header >= 0 {
				// <Header>Some words</Header>: the text is the header.
				b := &p.cfg.Layout[p.stack[n-1].header]
				b.Header = strings.TrimSpace(b.Header + string(t))
			}
		case xml.Directive:
			// A DOCTYPE can declare entities (billion laughs, external
			// files); nothing legitimate needs one.
			p.problem(line, "", "DOCTYPE and other <!...> declarations are not allowed")
			return
		}
	}
}

// start handles a start tag. Every start pushes onto the stack or the skip
// count, so that the matching end tag pops it.
func (p *configParser) start(t xml.StartElement, line int) {
	if p.skip > 0 {
		p.skip++
		return
	}
	spec := lookupTag(t.Name.Local)
	attrs, dup := readAttrs(t.Attr)
	tag := showTag(spec, t.Name.Local, attrs)
	if len(p.stack) == 0 {
		p.roots++
		if p.roots > 1 {
			p.problem(line, tag, "a configuration has exactly one root <View>; this is a second root element")
			p.skip++
			return
		}
		if spec == nil || spec.name != "View" {
			p.problem(line, tag, "the root element must be <View>")
			p.skip++
			return
		}
	}
	if spec == nil {
		p.problem(line, tag, "unknown tag; Glossa supports %s", supportedTags())
		p.skip++ // its children would only repeat the complaint
		return
	}
	if dup != "" {
		p.problem(line, tag, "attribute %s is given twice", dup)
	}
	parent := frame{control: -1}
	if len(p.stack) > 0 {
		parent = p.stack[len(p.stack)-1]
	}
	if parent.spec != nil && parent.spec.kind != kindLayout && parent.spec.kind != kindControl {
		p.problem(line, tag, "%s cannot contain other tags", parent.tag)
		p.skip++
		return
	}
	f := frame{
		spec:        spec,
		control:     parent.control,
		conditional: parent.conditional || attrs.Get("visibleWhen") != "",
		tag:         tag,
		header:      -1,
	}
	switch spec.kind {
	case kindLayout:
		if spec.name == "Header" && parent.control < 0 {
			f.header = len(p.cfg.Layout)
			p.cfg.Layout = append(p.cfg.Layout, Block{Header: attrs.Get("value"), Object: -1, Control: -1})
		}
	case kindObject:
		p.object(spec, attrs, tag, line, parent)
	case kindControl:
		f.control = p.control(spec, attrs, tag, line, parent, f.conditional)
	case kindOption:
		p.option(spec, attrs, tag, line, parent)
	case kindShortcut:
		if parent.control < 0 || p.cfg.Controls[parent.control].Tag != "TextArea" {
			p.problem(line, tag, "<Shortcut> belongs inside <TextArea>")
		}
	case kindFilter:
		p.name(attrs.Get("name"), tag, line, false)
		if to := attrs.Get("toName"); to == "" {
			p.problem(line, tag, "toName is missing: name the control whose labels it filters")
		} else {
			p.filters = append(p.filters, filterTag{toName: to, tag: tag, line: line})
		}
	}
	p.stack = append(p.stack, f)
}

func (p *configParser) object(spec *tagSpec, attrs Attrs, tag string, line int, parent frame) {
	if parent.control >= 0 {
		p.problem(line, tag, "an object tag cannot be inside the control %s", p.controlTag(parent.control))
		return
	}
	o := Object{Tag: spec.name, Name: attrs.Get("name"), Value: attrs.Get("value"), Attrs: attrs, Line: line}
	p.name(o.Name, tag, line, true)
	switch {
	case o.Value == "" && attrs.Get("valueList") != "":
		p.problem(line, tag, "valueList (several items in one tag) is not supported; bind one field with value=\"$field\"")
	case o.Value == "":
		p.problem(line, tag, "value is missing: bind the task data with value=\"$field\"")
	case strings.HasPrefix(o.Value, "$"):
		o.DataKey = o.Value[1:]
		if !validDataKey(o.DataKey) {
			p.problem(line, tag, "value %s names no data field: write value=\"$field\" with the field's name", quote(o.Value))
		}
	}
	p.cfg.Layout = append(p.cfg.Layout, Block{Object: len(p.cfg.Objects), Control: -1})
	p.cfg.Objects = append(p.cfg.Objects, o)
}

// validDataKey accepts the keys Label Studio binds with $: a name without
// spaces, quotes or further $ (so "$text" but not "$ text" or "$a $b").
func validDataKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, " \t\r\n$\"'<>")
}

// control records a control tag and returns its index.
func (p *configParser) control(spec *tagSpec, attrs Attrs, tag string, line int, parent frame, conditional bool) int {
	if parent.control >= 0 {
		p.problem(line, tag, "a control cannot be inside another control (%s)", p.controlTag(parent.control))
	}
	c := Control{
		Tag:         spec.name,
		Name:        attrs.Get("name"),
		ToName:      attrs.Get("toName"),
		Conditional: conditional,
		Attrs:       attrs,
		Line:        line,
	}
	p.name(c.Name, tag, line, true)
	if c.ToName == "" {
		p.problem(line, tag, "toName is missing: name the object tag it labels")
	}
	var err string
	if c.Required, err = boolAttr(attrs, "required"); err != "" {
		p.problem(line, tag, "%s", err)
	}
	if c.PerRegion, err = boolAttr(attrs, "perRegion"); err != "" {
		p.problem(line, tag, "%s", err)
	}
	if spec.choices != nil {
		c.Choice = attrs.Get("choice")
		if c.Choice == "" {
			c.Choice = "single"
		} else if !slices.Contains(spec.choices, c.Choice) {
			p.problem(line, tag, "choice %s is not one of %s", quote(c.Choice), strings.Join(spec.choices, ", "))
		}
	}
	if spec.option != "" && strings.HasPrefix(attrs.Get("value"), "$") {
		// Dynamic labels come from each task's data, so neither results
		// nor orphaned labels could be checked against the config.
		p.problem(line, tag, "%ss taken from task data (value=%s) are not supported; list each <%s> in the config", spec.option, quote(attrs.Get("value")), spec.option)
	}
	if spec.name == "Rating" {
		c.MaxRating = 5
		if s := attrs.Get("maxRating"); s != "" {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n < 1 {
				p.problem(line, tag, "maxRating %s must be a whole number, 1 or more", quote(s))
			} else {
				c.MaxRating = int(n)
			}
		}
	}
	p.cfg.Layout = append(p.cfg.Layout, Block{Object: -1, Control: len(p.cfg.Controls)})
	p.cfg.Controls = append(p.cfg.Controls, c)
	return len(p.cfg.Controls) - 1
}

func (p *configParser) option(spec *tagSpec, attrs Attrs, tag string, line int, parent frame) {
	if parent.control < 0 {
		p.problem(line, tag, "<%s> belongs inside %s", spec.name, optionHolders(spec.name))
		return
	}
	c := &p.cfg.Controls[parent.control]
	if ctl := lookupTag(c.Tag); ctl.option != spec.name {
		p.problem(line, tag, "<%s> belongs inside %s, not %s", spec.name, optionHolders(spec.name), p.controlTag(parent.control))
		return
	}
	// Results carry the alias when there is one (Label Studio's
	// parse_config does the same).
	v := attrs.Get("alias")
	if v == "" {
		v = attrs.Get("value")
	}
	if v == "" {
		p.problem(line, tag, "value is missing")
		return
	}
	// Label Studio accepts a value listed twice; so do we, keeping one.
	if !slices.Contains(c.Labels, v) {
		c.Labels = append(c.Labels, v)
		text := attrs.Get("value")
		if text == "" {
			text = v
		}
		c.Options = append(c.Options, Option{Value: v, Text: text, Hotkey: attrs.Get("hotkey"), Background: attrs.Get("background")})
	}
}

func optionHolders(option string) string {
	var holders []string
	for _, s := range tagSpecs {
		if s.option == option {
			holders = append(holders, "<"+s.name+">")
		}
	}
	return strings.Join(holders, ", ")
}

// name records a tag's name, which must be unique among all named tags
// (Label Studio checks every name= in the config).
func (p *configParser) name(name, tag string, line int, required bool) {
	if name == "" {
		if required {
			p.problem(line, tag, "name is missing")
		}
		return
	}
	if prev, ok := p.names[name]; ok {
		p.problem(line, tag, "name %s is already used by %s on line %d", quote(name), prev.tag, prev.line)
		return
	}
	p.names[name] = namedTag{tag: tag, line: line}
}

func (p *configParser) controlTag(i int) string {
	c := p.cfg.Controls[i]
	return showTag(lookupTag(c.Tag), c.Tag, c.Attrs)
}

// check runs the checks that need the whole document: a control may name
// an object tag that comes after it, as Label Studio's NER template does.
func (p *configParser) check() {
	if p.roots == 0 && len(p.problems) == 0 {
		p.problem(0, "", "there is no root <View> element")
		return
	}
	objects := map[string]*Object{}
	var objectNames []string
	for i := range p.cfg.Objects {
		o := &p.cfg.Objects[i]
		if o.Name != "" {
			if _, seen := objects[o.Name]; !seen {
				objects[o.Name] = o
				objectNames = append(objectNames, o.Name)
			}
		}
	}
	theObjects := "the object tags are: " + strings.Join(objectNames, ", ")
	if len(objectNames) == 0 {
		theObjects = "the config has no object tag (Text, HyperText, Image)"
	}
	for i := range p.cfg.Controls {
		c := &p.cfg.Controls[i]
		spec := lookupTag(c.Tag)
		tag := showTag(spec, c.Tag, c.Attrs)
		if spec.option != "" && len(c.Labels) == 0 {
			p.problem(c.Line, tag, "it lists no <%s>; add at least one", spec.option)
		}
		if c.ToName == "" {
			continue // already reported
		}
		if strings.Contains(c.ToName, ",") {
			p.problem(c.Line, tag, "toName %s names several tags; Glossa supports one object tag per control", quote(c.ToName))
			continue
		}
		o, ok := objects[c.ToName]
		switch {
		case !ok && p.names[c.ToName].tag != "":
			p.problem(c.Line, tag, "toName %s names %s, which is not an object tag; %s", quote(c.ToName), p.names[c.ToName].tag, theObjects)
		case !ok:
			p.problem(c.Line, tag, "toName %s names no object tag; %s", quote(c.ToName), theObjects)
		case spec.objects != nil && !slices.Contains(spec.objects, o.Tag):
			p.problem(c.Line, tag, "toName %s names a <%s>, but %s labels only %s", quote(c.ToName), o.Tag, spec.name, tagList(spec.objects))
		}
	}
	for _, f := range p.filters {
		if p.cfg.Control(f.toName) == nil {
			p.problem(f.line, f.tag, "toName %s names no control", quote(f.toName))
		}
	}
}

func tagList(tags []string) string {
	shown := make([]string, len(tags))
	for i, t := range tags {
		shown[i] = "<" + t + ">"
	}
	return strings.Join(shown, " and ")
}

// readAttrs collects attributes as written and reports one given twice in
// any case (Label Studio's XML parser refuses exact repeats, and its editor,
// which lower-cases names, would see toName and toname as one).
func readAttrs(list []xml.Attr) (attrs Attrs, dup string) {
	attrs = make(Attrs, len(list))
	seen := make(map[string]bool, len(list))
	for _, a := range list {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		lower := strings.ToLower(a.Name.Local)
		if seen[lower] && dup == "" {
			dup = a.Name.Local
		}
		seen[lower] = true
		attrs[a.Name.Local] = a.Value
	}
	return attrs, dup
}

// boolAttr reads a true/false attribute; absent means false. A value other
// than true or false is more likely a typo ("yes") than a wish for false,
// which is what Label Studio would silently make of it.
func boolAttr(attrs Attrs, name string) (bool, string) {
	switch v := attrs.Get(name); strings.ToLower(v) {
	case "", "false":
		return false, ""
	case "true":
		return true, ""
	default:
		return false, fmt.Sprintf("%s must be true or false, not %s", name, quote(v))
	}
}

// showTag renders a tag for messages: its name and the attribute that best
// identifies it, <Choices name="sentiment"> or <Label value="PER">.
func showTag(spec *tagSpec, raw string, attrs Attrs) string {
	name := raw
	if spec != nil {
		name = spec.name
	} else {
		name = shorten(name) // an unknown tag's name is the user's, and may be huge
	}
	for _, key := range []string{"name", "value"} {
		if v := attrs.Get(key); v != "" {
			return fmt.Sprintf("<%s %s=%s>", name, key, quote(v))
		}
	}
	return "<" + name + ">"
}

// quote quotes a user-supplied string for a message, shortened.
func quote(s string) string { return strconv.Quote(shorten(s)) }

// shorten cuts a user-supplied string to 60 characters, so that a huge
// value cannot make a huge message.
func shorten(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) > max {
		return string([]rune(s)[:max]) + "…"
	}
	return s
}

// Object returns the object tag named name, or nil.
func (c *Config) Object(name string) *Object {
	for i := range c.Objects {
		if c.Objects[i].Name == name {
			return &c.Objects[i]
		}
	}
	return nil
}

// Control returns the control tag named name, or nil.
func (c *Config) Control(name string) *Control {
	for i := range c.Controls {
		if c.Controls[i].Name == name {
			return &c.Controls[i]
		}
	}
	return nil
}

// DataKeys returns the task data fields the object tags bind, in document
// order without repeats: the fields every task of the project must carry.
func (c *Config) DataKeys() []string {
	var keys []string
	for _, o := range c.Objects {
		if o.DataKey != "" && !slices.Contains(keys, o.DataKey) {
			keys = append(keys, o.DataKey)
		}
	}
	return keys
}

// FirstObjectDataKey returns the data field of the first object tag that
// binds one ("image" for <Image value="$image"/>), or "". It is where a
// storage that makes one task per object puts the object's URL, as Label
// Studio does.
func (c *Config) FirstObjectDataKey() string {
	for _, o := range c.Objects {
		if o.DataKey != "" {
			return o.DataKey
		}
	}
	return ""
}

// Labels maps the name of each control that lists options (Choices and the
// *Labels tags) to its option values.
func (c *Config) Labels() map[string][]string {
	m := map[string][]string{}
	for _, ctl := range c.Controls {
		if lookupTag(ctl.Tag).option != "" {
			m[ctl.Name] = slices.Clone(ctl.Labels)
		}
	}
	return m
}
