package labeling_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/labeling"
)

// MustParseConfig parses a configuration that the test expects to be valid.
func MustParseConfig(tb testing.TB, config string) *labeling.Config {
	tb.Helper()
	cfg, err := labeling.ParseConfig(config)
	if err != nil {
		tb.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

// MustReadFile returns a file under testdata.
func MustReadFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// Label Studio's own templates parse as it ships them.
func TestParseConfigTemplates(t *testing.T) {
	cases := []struct {
		file       string
		dataKeys   []string
		labels     map[string][]string
		firstKey   string
		controlTag string
	}{
		{"templates/text-classification.xml", []string{"text"}, map[string][]string{"sentiment": {"Positive", "Negative", "Neutral"}}, "text", "Choices"},
		{"templates/named-entity-recognition.xml", []string{"ner"}, map[string][]string{"label": {"PER", "ORG", "LOC", "MISC"}}, "ner", "Labels"},
		{"templates/object-detection-with-bounding-boxes.xml", []string{"image"}, map[string][]string{"label": {"Airplane", "Car"}}, "image", "RectangleLabels"},
		{"templates/image-bbox-docs.xml", []string{"image"}, map[string][]string{"label": {"Airplane", "Car"}}, "image", "RectangleLabels"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			cfg := MustParseConfig(t, MustReadFile(t, c.file))
			if diff := cmp.Diff(c.dataKeys, cfg.DataKeys()); diff != "" {
				t.Errorf("DataKeys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.labels, cfg.Labels()); diff != "" {
				t.Errorf("Labels (-want +got):\n%s", diff)
			}
			if got := cfg.FirstObjectDataKey(); got != c.firstKey {
				t.Errorf("FirstObjectDataKey = %q, want %q", got, c.firstKey)
			}
			if len(cfg.Controls) != 1 || cfg.Controls[0].Tag != c.controlTag {
				t.Errorf("Controls = %+v, want one %s", cfg.Controls, c.controlTag)
			}
		})
	}
}

// The Glossa-written config uses every supported tag, with the layout and
// style attributes that Label Studio configs carry.
func TestParseConfigEverything(t *testing.T) {
	cfg := MustParseConfig(t, MustReadFile(t, "configs/everything.xml"))
	want := []labeling.Control{
		{Tag: "Labels", Name: "entities", ToName: "review", Choice: "multiple", Labels: []string{"PER", "Place"}, Line: 10},
		{Tag: "Choices", Name: "sentiment", ToName: "review", Choice: "single-radio", Required: true, Labels: []string{"Positive", "Negative"}, Line: 14},
		{Tag: "Choices", Name: "reason", ToName: "review", Choice: "multiple", Required: true, Conditional: true, Labels: []string{"Price", "Quality"}, Line: 22},
		{Tag: "TextArea", Name: "note", ToName: "review", PerRegion: true, Line: 27},
		{Tag: "TextArea", Name: "summary", ToName: "review", Required: true, Line: 30},
		{Tag: "Rating", Name: "stars", ToName: "review", MaxRating: 10, Line: 31},
		{Tag: "RectangleLabels", Name: "box", ToName: "photo", Choice: "single", Labels: []string{"Product"}, Line: 37},
		{Tag: "HyperTextLabels", Name: "html_entities", ToName: "page", Choice: "single", Labels: []string{"Brand"}, Line: 41},
		{Tag: "Rating", Name: "page_rating", ToName: "page", MaxRating: 5, Line: 44},
	}
	if diff := cmp.Diff(want, cfg.Controls, cmpopts.IgnoreFields(labeling.Control{}, "Attrs", "Options")); diff != "" {
		t.Errorf("Controls (-want +got):\n%s", diff)
	}
	// Options carry what the labeling page shows: the value (results carry
	// the alias), the hotkey and the colour.
	wantOptions := []labeling.Option{
		{Value: "PER", Text: "Person", Hotkey: "p", Background: "red"},
		{Value: "Place", Text: "Place", Hotkey: "l", Background: "#00ff00"},
	}
	if diff := cmp.Diff(wantOptions, cfg.Control("entities").Options); diff != "" {
		t.Errorf("entities' Options (-want +got):\n%s", diff)
	}
	// The layout: headers outside controls, objects and controls in
	// document order, nesting flattened.
	var layout []string
	for _, b := range cfg.Layout {
		switch {
		case b.Object >= 0:
			layout = append(layout, "object "+cfg.Objects[b.Object].Name)
		case b.Control >= 0:
			layout = append(layout, "control "+cfg.Controls[b.Control].Name)
		default:
			layout = append(layout, "header "+b.Header)
		}
	}
	wantLayout := []string{
		"header Review", "header Read the review, then label it", "object review",
		"control entities", "control sentiment", "control reason", "control note", "control summary", "control stars",
		"object photo", "control box", "object page", "control html_entities", "control page_rating",
	}
	if diff := cmp.Diff(wantLayout, layout); diff != "" {
		t.Errorf("Layout (-want +got):\n%s", diff)
	}
	wantObjects := []labeling.Object{
		{Tag: "Text", Name: "review", Value: "$review", DataKey: "review", Line: 8},
		{Tag: "Image", Name: "photo", Value: "$photo", DataKey: "photo", Line: 34},
		{Tag: "HyperText", Name: "page", Value: "$html", DataKey: "html", Line: 40},
	}
	if diff := cmp.Diff(wantObjects, cfg.Objects, cmpopts.IgnoreFields(labeling.Object{}, "Attrs")); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
	// Attributes Glossa does not interpret are kept, and found in any case.
	if got := cfg.Object("photo").Attrs.Get("zoomcontrol"); got != "true" {
		t.Errorf(`photo's zoomControl = %q, want "true"`, got)
	}
	if got := cfg.Control("entities").Attrs.Get("showInline"); got != "true" {
		t.Errorf(`entities' showInline = %q, want "true"`, got)
	}
	if got := cfg.Control("entities").Type(); got != "labels" {
		t.Errorf("Type() = %q, want labels", got)
	}
}

func TestParseConfigAccepts(t *testing.T) {
	for name, config := range map[string]string{
		"default empty view": labeling.DefaultConfig,
		// Label Studio's editor lower-cases tag and attribute names.
		"lower case":                   `<view><text name="t" value="$t"/><choices name="c" toname="t"><choice value="A"/></choices></view>`,
		"static text value":            `<View><Text name="t" value="Read this."/><Labels name="l" toName="t"><Label value="X"/></Labels></View>`,
		"duplicate label":              `<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Label value="X"/><Label value="X"/></Labels></View>`,
		"xml declaration and comments": "<?xml version=\"1.0\"?>\n<!-- c -->\n<View><!-- inside --></View>\n<!-- after -->",
		"namespace declaration":        `<View xmlns="urn:x"><Image name="i" value="$i"/></View>`,
	} {
		t.Run(name, func(t *testing.T) { MustParseConfig(t, config) })
	}
	cfg := MustParseConfig(t, `<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Label value="X"/><Label value="X"/></Labels></View>`)
	if diff := cmp.Diff([]string{"X"}, cfg.Control("l").Labels); diff != "" {
		t.Errorf("a label listed twice is kept once (-want +got):\n%s", diff)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const text = `<Text name="text" value="$text"/>`
	view := func(lines ...string) string { return "<View>\n" + strings.Join(lines, "\n") + "\n</View>" }
	cases := []struct {
		name   string
		config string
		want   []string // each problem, in order, as a substring of its line
	}{
		{"toName names no object", view(
			text,
			`<Header value="Sentiment"/>`,
			`<Choices name="sentiment" toName="txt">`,
			`<Choice value="Positive"/>`,
			`</Choices>`),
			[]string{`line 4, <Choices name="sentiment">: toName "txt" names no object tag; the object tags are: text`}},
		{"no object tags at all", view(`<Choices name="c" toName="t"><Choice value="A"/></Choices>`),
			[]string{`line 2, <Choices name="c">: toName "t" names no object tag; the config has no object tag`}},
		{"toName names a control", view(text, `<Choices name="a" toName="text"><Choice value="A"/></Choices>`, `<TextArea name="b" toName="a"/>`),
			[]string{`line 4, <TextArea name="b">: toName "a" names <Choices name="a">, which is not an object tag; the object tags are: text`}},
		{"rectangles on text", view(text, `<RectangleLabels name="r" toName="text"><Label value="A"/></RectangleLabels>`),
			[]string{`line 3, <RectangleLabels name="r">: toName "text" names a <Text>, but RectangleLabels labels only <Image>`}},
		{"spans on an image", view(`<Image name="img" value="$image"/>`, `<Labels name="l" toName="img"><Label value="A"/></Labels>`),
			[]string{`line 3, <Labels name="l">: toName "img" names a <Image>, but Labels labels only <Text> and <HyperText>`}},
		{"several toNames", view(text, `<Text name="b" value="$b"/>`, `<Choices name="c" toName="text,b"><Choice value="A"/></Choices>`),
			[]string{`line 4, <Choices name="c">: toName "text,b" names several tags; Glossa supports one object tag per control`}},
		{"duplicate name", view(text, `<Choices name="text" toName="text"><Choice value="A"/></Choices>`),
			[]string{`line 3, <Choices name="text">: name "text" is already used by <Text name="text"> on line 2`}},
		{"object without name", view(`<Text value="$text"/>`),
			[]string{`line 2, <Text value="$text">: name is missing`}},
		{"object without value", view(`<Image name="img"/>`),
			[]string{`line 2, <Image name="img">: value is missing: bind the task data with value="$field"`}},
		{"object with valueList", view(`<Image name="img" valueList="$images"/>`),
			[]string{`line 2, <Image name="img">: valueList (several items in one tag) is not supported`}},
		{"value names no field", view(`<Text name="t" value="$ text"/>`),
			[]string{`line 2, <Text name="t">: value "$ text" names no data field`}},
		{"control without name or toName", view(text, `<TextArea/>`),
			[]string{`line 3, <TextArea>: name is missing`, `line 3, <TextArea>: toName is missing: name the object tag it labels`}},
		{"unknown tag", view(text, `<Polygon name="p" toName="text"><Label value="A"/></Polygon>`),
			[]string{`line 3, <Polygon name="p">: unknown tag; Glossa supports View, Header, Style, Collapse, Panel, Filter, Text, HyperText, Image, Choices, Choice, Labels, HyperTextLabels, RectangleLabels, Label, TextArea, Shortcut, Rating`}},
		{"choice outside choices", view(text, `<Choice value="A"/>`),
			[]string{`line 3, <Choice value="A">: <Choice> belongs inside <Choices>`}},
		{"label inside choices", view(text, `<Choices name="c" toName="text">`, `<Label value="A"/>`, `</Choices>`),
			[]string{`line 3, <Choices name="c">: it lists no <Choice>; add at least one`, `line 4, <Label value="A">: <Label> belongs inside <Labels>, <HyperTextLabels>, <RectangleLabels>, not <Choices name="c">`}},
		{"option without value", view(text, `<Labels name="l" toName="text"><Label value="A"/><Label background="red"/></Labels>`),
			[]string{`line 3, <Label>: value is missing`}},
		{"control without options", view(text, `<Labels name="l" toName="text"></Labels>`),
			[]string{`line 3, <Labels name="l">: it lists no <Label>; add at least one`}},
		{"bad choice", view(text, `<Choices name="c" toName="text" choice="many"><Choice value="A"/></Choices>`),
			[]string{`line 3, <Choices name="c">: choice "many" is not one of single, single-radio, multiple`}},
		{"single-radio is only for choices", view(text, `<Labels name="l" toName="text" choice="single-radio"><Label value="A"/></Labels>`),
			[]string{`choice "single-radio" is not one of single, multiple`}},
		{"bad required", view(text, `<Choices name="c" toName="text" required="yes"><Choice value="A"/></Choices>`),
			[]string{`line 3, <Choices name="c">: required must be true or false, not "yes"`}},
		{"bad perRegion", view(text, `<TextArea name="n" toName="text" perRegion="1"/>`),
			[]string{`perRegion must be true or false, not "1"`}},
		{"bad maxRating", view(text, `<Rating name="r" toName="text" maxRating="ten"/>`),
			[]string{`line 3, <Rating name="r">: maxRating "ten" must be a whole number, 1 or more`}},
		{"zero maxRating", view(text, `<Rating name="r" toName="text" maxRating="0"/>`),
			[]string{`maxRating "0" must be a whole number, 1 or more`}},
		{"dynamic choices", view(text, `<Choices name="c" toName="text" value="$options"/>`),
			[]string{`line 3, <Choices name="c">: Choices taken from task data (value="$options") are not supported; list each <Choice> in the config`, `it lists no <Choice>`}},
		{"control inside control", view(text, `<Choices name="c" toName="text"><Choice value="A"/>`, `<TextArea name="t" toName="text"/></Choices>`),
			[]string{`line 4, <TextArea name="t">: a control cannot be inside another control (<Choices name="c">)`}},
		{"object inside control", view(text, `<Choices name="c" toName="text"><Choice value="A"/>`, `<Image name="i" value="$i"/></Choices>`),
			[]string{`line 4, <Image name="i">: an object tag cannot be inside the control <Choices name="c">`}},
		{"tag inside an object", view(`<Text name="t" value="$t">`, `<Label value="A"/>`, `</Text>`),
			[]string{`line 3, <Label value="A">: <Text name="t"> cannot contain other tags`}},
		{"nested choices", view(text, `<Choices name="c" toName="text"><Choice value="A">`, `<Choice value="B"/></Choice></Choices>`),
			[]string{`line 4, <Choice value="B">: <Choice value="A"> cannot contain other tags`}},
		{"shortcut outside textarea", view(text, `<Shortcut value="x"/>`),
			[]string{`line 3, <Shortcut value="x">: <Shortcut> belongs inside <TextArea>`}},
		{"filter on nothing", view(text, `<Filter name="f" toName="labels"/>`),
			[]string{`line 3, <Filter name="f">: toName "labels" names no control`}},
		{"attribute twice", view(text, `<Choices name="c" toName="text" toname="text"><Choice value="A"/></Choices>`),
			[]string{`line 3, <Choices name="c">: attribute toname is given twice`}},
		{"doctype", "<!DOCTYPE View [<!ENTITY x \"y\">]>\n<View>&x;</View>",
			[]string{`line 1: DOCTYPE and other <!...> declarations are not allowed`}},
		{"undefined entity", "<View>\n<Header value=\"&x;\"/>\n</View>",
			[]string{`line 2: not valid XML: invalid character entity &x;`}},
		{"unclosed tag", "<View>\n<Text name=\"t\" value=\"$t\">\n</View>",
			[]string{`line 3: not valid XML: element <Text> closed by </View>`}},
		{"wrong root", "<Text name=\"t\" value=\"$t\"/>",
			[]string{`line 1, <Text name="t">: the root element must be <View>`}},
		{"two roots", "<View/>\n<View/>",
			[]string{`line 2, <View>: a configuration has exactly one root <View>`}},
		{"text outside", "<View/>\njunk",
			[]string{`line 1: text outside the <View> element`}},
		{"no root", "<!-- nothing -->",
			[]string{`there is no root <View> element`}},
		{"too deep", strings.Repeat("<View>", 101) + strings.Repeat("</View>", 101),
			[]string{`line 1: elements are nested more than 100 deep`}},
		{"too deep inside an unknown tag", "<View><Polygon>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</Polygon></View>",
			[]string{`line 1, <Polygon>: unknown tag`, `line 1: elements are nested more than 100 deep`}},
		{"several at once, in document order", view(
			`<Labels name="ner" toName="txt"><Label value="PER"/></Labels>`,
			`<Text name="text" value="$text"/>`,
			`<Choices name="c" toName="text" choice="one"><Choice value="A"/></Choices>`,
			`<Polygon/>`),
			[]string{
				`line 2, <Labels name="ner">: toName "txt" names no object tag`,
				`line 4, <Choices name="c">: choice "one" is not one of`,
				`line 5, <Polygon>: unknown tag`,
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := labeling.ParseConfig(c.config)
			if code := glossa.ErrorCode(err); code != glossa.EUNPROCESSABLE {
				t.Fatalf("error %v has code %q, want %q", err, code, glossa.EUNPROCESSABLE)
			}
			var ce *labeling.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v does not wrap a *ConfigError", err)
			}
			if len(ce.Problems) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(ce.Problems), len(c.want), glossa.ErrorMessage(err))
			}
			for i, p := range ce.Problems {
				if !strings.Contains(p.String(), c.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p.String(), c.want[i])
				}
				// The message shown to the user carries every problem.
				if !strings.Contains(glossa.ErrorMessage(err), p.String()) {
					t.Errorf("message %q lacks problem %q", glossa.ErrorMessage(err), p.String())
				}
			}
		})
	}
}

func TestParseConfigMessages(t *testing.T) {
	_, err := labeling.ParseConfig("<View>\n<Text name=\"text\" value=\"$text\"/>\n<Header value=\"Sentiment\"/>\n<Choices name=\"sentiment\" toName=\"txt\">\n<Choice value=\"Positive\"/>\n</Choices>\n</View>")
	const want = `label_config: line 4, <Choices name="sentiment">: toName "txt" names no object tag; the object tags are: text`
	if got := glossa.ErrorMessage(err); got != want {
		t.Errorf("one problem:\n got %q\nwant %q", got, want)
	}
	_, err = labeling.ParseConfig("<View>\n<Choice value=\"A\"/>\n<Label value=\"B\"/>\n</View>")
	const want2 = "label_config has 2 problems:\nline 2, <Choice value=\"A\">: <Choice> belongs inside <Choices>\nline 3, <Label value=\"B\">: <Label> belongs inside <Labels>, <HyperTextLabels>, <RectangleLabels>"
	if got := glossa.ErrorMessage(err); got != want2 {
		t.Errorf("two problems:\n got %q\nwant %q", got, want2)
	}
	// Many problems are counted, and the list is cut short.
	_, err = labeling.ParseConfig("<View>" + strings.Repeat("<Choice value=\"A\"/>", 30) + "</View>")
	if msg := glossa.ErrorMessage(err); !strings.HasPrefix(msg, "label_config has 30 problems:") || !strings.HasSuffix(msg, "... and 10 more") {
		t.Errorf("30 problems: message %q", msg)
	}
	// User text in messages is bounded.
	_, err = labeling.ParseConfig(`<View><` + strings.Repeat("X", 10000) + `/></View>`)
	if msg := glossa.ErrorMessage(err); len(msg) > 1000 {
		t.Errorf("message for a huge tag name is %d bytes", len(msg))
	}
}

func TestParseConfigLimits(t *testing.T) {
	for _, c := range []struct{ name, config, code, want string }{
		{"empty", " \n", glossa.EUNPROCESSABLE, "label_config is empty"},
		{"too large", "<View>" + strings.Repeat(" ", 1<<20) + "</View>", glossa.ETOOLARGE, "larger than 1 MiB"},
	} {
		_, err := labeling.ParseConfig(c.config)
		if glossa.ErrorCode(err) != c.code || !strings.Contains(glossa.ErrorMessage(err), c.want) {
			t.Errorf("%s: error %v, want code %s and a message containing %q", c.name, err, c.code, c.want)
		}
	}
}

func TestConfigDataKeys(t *testing.T) {
	cfg := MustParseConfig(t, `<View>
  <Header value="$title"/>
  <Text name="static" value="Instructions"/>
  <Image name="a" value="$image"/>
  <Text name="b" value="$caption"/>
  <Image name="c" value="$image"/>
</View>`)
	if diff := cmp.Diff([]string{"image", "caption"}, cfg.DataKeys()); diff != "" {
		t.Errorf("DataKeys (-want +got):\n%s", diff)
	}
	if got := cfg.FirstObjectDataKey(); got != "image" {
		t.Errorf("FirstObjectDataKey = %q, want image", got)
	}
	if got := MustParseConfig(t, labeling.DefaultConfig).FirstObjectDataKey(); got != "" {
		t.Errorf("FirstObjectDataKey of the default config = %q, want empty", got)
	}
}

// FuzzParseConfig checks that no input panics, that every refusal is a
// user-facing error, and that every accepted config is consistent.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{
		"templates/text-classification.xml", "templates/named-entity-recognition.xml",
		"templates/object-detection-with-bounding-boxes.xml", "configs/everything.xml",
	} {
		f.Add(MustReadFile(f, name))
	}
	f.Add(labeling.DefaultConfig)
	f.Add(`<View><Choices name="c" toName="t"><Choice value="A"/></Choices><Text name="t" value="$t"/></View>`)
	f.Add(`<!DOCTYPE x><View/>`)
	f.Fuzz(func(t *testing.T, config string) {
		cfg, err := labeling.ParseConfig(config)
		if err != nil {
			if code := glossa.ErrorCode(err); code != glossa.EUNPROCESSABLE && code != glossa.ETOOLARGE {
				t.Fatalf("code %q for %v", code, err)
			}
			if glossa.ErrorMessage(err) == "" {
				t.Fatal("empty message")
			}
			return
		}
		names := map[string]bool{}
		for _, o := range cfg.Objects {
			if o.Name == "" || names[o.Name] {
				t.Fatalf("object name %q empty or repeated", o.Name)
			}
			names[o.Name] = true
		}
		for _, c := range cfg.Controls {
			if c.Name == "" || names[c.Name] {
				t.Fatalf("control name %q empty or repeated", c.Name)
			}
			names[c.Name] = true
			if cfg.Object(c.ToName) == nil {
				t.Fatalf("control %q labels %q, which is no object", c.Name, c.ToName)
			}
		}
	})
}

// The templates offered to new projects are Label Studio's, and parse.
func TestTemplates(t *testing.T) {
	if len(labeling.Templates) == 0 {
		t.Fatal("no templates")
	}
	for _, tpl := range labeling.Templates {
		MustParseConfig(t, tpl.Config)
		if want := strings.TrimSpace(MustReadFile(t, "templates/"+tpl.Name+".xml")); tpl.Config != want {
			t.Errorf("template %s differs from Label Studio's (testdata/templates)", tpl.Name)
		}
		if labeling.FindTemplate(tpl.Name) == nil {
			t.Errorf("FindTemplate(%q) = nil", tpl.Name)
		}
	}
}
