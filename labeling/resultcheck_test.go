package labeling_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/labeling"
)

// resultConfig has a control of every kind.
const resultConfig = `<View>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text">
    <Label value="PER"/><Label value="ORG"/>
  </Labels>
  <Choices name="sentiment" toName="text" required="true">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
  <Choices name="topics" toName="text" choice="multiple">
    <Choice value="Sport"/><Choice value="Politics"/>
  </Choices>
  <TextArea name="note" toName="text" perRegion="true"/>
  <TextArea name="summary" toName="text"/>
  <Rating name="quality" toName="text" maxRating="4"/>
  <Image name="img" value="$image"/>
  <RectangleLabels name="box" toName="img">
    <Label value="Car"/>
  </RectangleLabels>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="html_ner" toName="page"><Label value="Brand"/></HyperTextLabels>
  <View visibleWhen="choice-selected" whenTagName="sentiment" whenChoiceValue="Negative">
    <Choices name="why" toName="text" required="true"><Choice value="Price"/></Choices>
  </View>
</View>`

// resultData's text has an emoji before the words: in code points "test"
// is at 21..25, in JavaScript's UTF-16 units at 22..26. The text is 30
// code points long.
const resultData = `{"text": "🐱 Warning: This is a test text", "image": "s3://bucket/1.jpg", "html": "<p>hi</p>"}`

// answered wraps result items with the required sentiment answer.
func answered(items ...string) string {
	return "[" + strings.Join(append([]string{`{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive"]}}`}, items...), ",") + "]"
}

func span(start, end any, extra string) string {
	b, _ := json.Marshal(map[string]any{"start": start, "end": end})
	v := strings.TrimSuffix(string(b), "}")
	if extra != "" {
		v += "," + extra
	}
	return `{"id":"r1","from_name":"ner","to_name":"text","type":"labels","value":` + v + `}}`
}

func box(value string) string {
	return `{"id":"b1","from_name":"box","to_name":"img","type":"rectanglelabels","original_width":2242,"original_height":2802,"value":` + value + `}`
}

func hyper(value string) string {
	return `{"id":"h1","from_name":"html_ner","to_name":"page","type":"hypertextlabels","value":` + value + `}`
}

func TestConfigValidateResult(t *testing.T) {
	cfg := MustParseConfig(t, resultConfig)
	cases := []struct {
		name   string
		result string
		data   string // resultData when empty; "-" for none
		want   string // "" means valid; else a substring of the message
	}{
		// Valid.
		{"required answer only", answered(), "", ""},
		{"span counted in code points", answered(span(21, 25, `"text":"test","labels":["PER"]`)), "", ""},
		{"span at the very end", answered(span(26, 30, `"text":"text","labels":["ORG"]`)), "", ""},
		{"span without text", answered(span(0, 1, `"labels":["PER"]`)), "", ""},
		{"span offsets written as 21.0", answered(span(21.0, 25.0, `"labels":["PER"]`)), "", ""},
		{"span text with Label Studio's escaped line break", answered(span(0, 15, `"text":"Warning:\\n🐱 This","labels":["PER"]`)), `{"text": "Warning:\n🐱 This is it"}`, ""},
		{"span text with collapsed whitespace", answered(span(0, 9, `"text":"a b","labels":["PER"]`)), `{"text": "a    \t  b"}`, ""},
		{"no data: text checks skipped", answered(span(0, 1000, `"text":"whatever","labels":["PER"]`)), "-", ""},
		{"several topics", answered(`{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":["Sport","Politics"]}}`), "", ""},
		{"textarea and rating", answered(`{"from_name":"summary","to_name":"text","type":"textarea","value":{"text":["one","two"]}}`, `{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":4}}`), "", ""},
		{"per-region note after its region", answered(span(0, 1, `"labels":["PER"]`), `{"id":"r1","from_name":"note","to_name":"text","type":"textarea","value":{"start":0,"end":1,"text":["why"]}}`), "", ""},
		{"per-region note before its region", answered(`{"id":"r1","from_name":"note","to_name":"text","type":"textarea","value":{"text":["why"]}}`, span(0, 1, `"labels":["PER"]`)), "", ""},
		{"box, with Label Studio's extra fields", answered(box(`{"x":50.8,"y":5.869797225186766,"width":12.4,"height":10.458911419423693,"rotation":0,"rectanglelabels":["Car"]}`)), "", ""},
		{"box touching the corner, rounded", answered(box(`{"x":50.00000000001,"y":0,"width":50,"height":100,"rectanglelabels":["Car"]}`)), "", ""},
		{"rotated box past the edge before rotation", answered(box(`{"x":90,"y":10,"width":30,"height":10,"rotation":90,"rectanglelabels":["Car"]}`)), "", ""},
		{"hypertext span", answered(hyper(`{"start":"/p[1]/text()[1]","end":"/p[1]/text()[1]","startOffset":0,"endOffset":2,"globalOffsets":{"start":0,"end":2},"text":"hi","hypertextlabels":["Brand"]}`)), "", ""},
		{"hypertext span without global offsets", answered(hyper(`{"start":"/p[1]","end":"/p[1]","startOffset":0,"endOffset":2,"hypertextlabels":["Brand"]}`)), "", ""},
		{"conditional required control unanswered", answered(), "", ""},
		{"unknown fields", answered(`{"id":"x","from_name":"quality","to_name":"text","type":"rating","origin":"prediction","score":0.5,"readonly":false,"value":{"rating":1}}`), "", ""},

		// Not a result at all.
		{"not a list", `{"from_name":"sentiment"}`, "", "result must be a list"},
		{"data not an object", answered(), `["text"]`, "The task data must be a JSON object."},
		{"item of the wrong shape", answered(`{"from_name":"summary","to_name":"text","type":"textarea","original_width":"wide","value":{"text":["x"]}}`), "", "result[1]: original_width has the wrong JSON type (string)"},

		// Names and types.
		{"no from_name", answered(`{"to_name":"text","type":"choices","value":{"choices":["Sport"]}}`), "", "result[1]: from_name is missing"},
		{"unknown from_name", answered(`{"from_name":"topic","to_name":"text","type":"choices","value":{"choices":["Sport"]}}`), "", `result[1]: from_name "topic" names no control; the controls are: ner, sentiment, topics, note, summary, quality, box, html_ner, why`},
		{"wrong to_name", answered(`{"from_name":"topics","to_name":"img","type":"choices","value":{"choices":["Sport"]}}`), "", `result[1]: to_name "img" does not match: control "topics" labels "text"`},
		{"wrong type", answered(`{"from_name":"topics","to_name":"text","type":"labels","value":{"choices":["Sport"]}}`), "", `result[1]: type "labels" does not match: control "topics" is a <Choices>, whose results have type "choices"`},
		{"no value", answered(`{"from_name":"topics","to_name":"text","type":"choices"}`), "", "result[1]: value is missing"},

		// Choices.
		{"choices not a list", answered(`{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":"Sport"}}`), "", "result[1]: value.choices must be a list of strings"},
		{"choices empty", answered(`{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":[]}}`), "", "result[1]: value.choices is empty"},
		{"unknown choice", answered(`{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":["Sport","Music"]}}`), "", `result[1]: value.choices has "Music", which control "topics" does not list; it lists: Sport, Politics`},
		{"two answers to a single choice", `[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive","Negative"]}}]`, "", `result[0]: value.choices has 2 values, but control "sentiment" takes one (choice="single")`},
		{"control answered twice", answered(`{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Negative"]}}`), "", `result[1]: control "sentiment" is already answered by result[0]; a <Choices> answers once per task`},
		{"required control unanswered", `[]`, "", `the required control "sentiment" (<Choices>) has no answer`},

		// Text spans.
		{"span in UTF-16 units", answered(span(22, 26, `"text":"test","labels":["PER"]`)), "", `result[1]: value.text "test" is not the text at 22..26, which is "est "`},
		{"span past the end", answered(span(26, 31, `"labels":["PER"]`)), "", "result[1]: value.end (31) is past the end of the text, which has 30 characters (Unicode code points, as Label Studio counts them)"},
		{"span start not whole", answered(span(2.5, 4, `"labels":["PER"]`)), "", "result[1]: value.start must be a whole number, not 2.5"},
		{"span end missing", answered(`{"id":"r1","from_name":"ner","to_name":"text","type":"labels","value":{"start":1,"labels":["PER"]}}`), "", "result[1]: value.end is missing"},
		{"span end a string", answered(span(1, "4", `"labels":["PER"]`)), "", "result[1]: value.end must be a number"},
		{"span backwards", answered(span(5, 3, `"labels":["PER"]`)), "", "result[1]: value.start (5) must be 0 or more and less than value.end (3)"},
		{"span empty", answered(span(5, 5, `"labels":["PER"]`)), "", "value.start (5) must be 0 or more and less than value.end (5)"},
		{"span negative", answered(span(-1, 3, `"labels":["PER"]`)), "", "value.start (-1) must be 0 or more"},
		{"span text not a string", answered(span(0, 1, `"text":7,"labels":["PER"]`)), "", "result[1]: value.text must be a string"},
		{"span labels missing", answered(span(0, 1, "")), "", "result[1]: value.labels must be a list of strings"},
		{"span labels empty", answered(span(0, 1, `"labels":[]`)), "", "result[1]: value.labels is empty"},
		{"unknown span label", answered(span(0, 1, `"labels":["LOC"]`)), "", `result[1]: value.labels has "LOC", which control "ner" does not list; it lists: PER, ORG`},
		{"two labels on a single-label span", answered(span(0, 1, `"labels":["PER","ORG"]`)), "", `value.labels has 2 values, but control "ner" takes one (choice="single")`},
		{"task data without the text", answered(span(0, 1, `"labels":["PER"]`)), `{"image":"x"}`, `result[1]: the task data has no field "text" for <Text name="text">`},
		{"task text not a string", answered(span(0, 1, `"labels":["PER"]`)), `{"text":["a"]}`, `result[1]: the task data field "text" is not a string`},

		// Per-region answers.
		{"per-region note without its region", answered(`{"id":"zz","from_name":"note","to_name":"text","type":"textarea","value":{"text":["why"]}}`), "", `result[1]: control "note" answers per region, but id "zz" names no region of "text" in this result`},
		{"per-region note twice for one region", answered(span(0, 1, `"labels":["PER"]`), `{"id":"r1","from_name":"note","to_name":"text","type":"textarea","value":{"text":["a"]}}`, `{"id":"r1","from_name":"note","to_name":"text","type":"textarea","value":{"text":["b"]}}`), "", `result[3]: control "note" is already answered by result[2]; a <TextArea> answers once per region`},

		// Boxes.
		{"box past the right edge", answered(box(`{"x":60,"y":0,"width":40.01,"height":10,"rectanglelabels":["Car"]}`)), "", "result[1]: the box passes the image's right edge: x + width = 100.01%"},
		{"box past the bottom edge", answered(box(`{"x":0,"y":95,"width":10,"height":6,"rectanglelabels":["Car"]}`)), "", "result[1]: the box passes the image's bottom edge: y + height = 101%"},
		{"box outside the image", answered(box(`{"x":101,"y":0,"width":1,"height":1,"rectanglelabels":["Car"]}`)), "", "result[1]: value.x (101) must be a percentage from 0 to 100"},
		{"box negative", answered(box(`{"x":0,"y":-3,"width":1,"height":1,"rectanglelabels":["Car"]}`)), "", "value.y (-3) must be a percentage from 0 to 100"},
		{"box without height", answered(box(`{"x":0,"y":0,"width":1,"rectanglelabels":["Car"]}`)), "", "result[1]: value.height is missing"},
		{"box rotation not a number", answered(box(`{"x":0,"y":0,"width":1,"height":1,"rotation":"90","rectanglelabels":["Car"]}`)), "", "result[1]: value.rotation must be a number"},
		{"box unknown label", answered(box(`{"x":0,"y":0,"width":1,"height":1,"rectanglelabels":["Bus"]}`)), "", `result[1]: value.rectanglelabels has "Bus", which control "box" does not list; it lists: Car`},
		{"box image size zero", answered(`{"id":"b1","from_name":"box","to_name":"img","type":"rectanglelabels","original_width":0,"value":{"x":0,"y":0,"width":1,"height":1,"rectanglelabels":["Car"]}}`), "", "result[1]: original_width must be the image's size in pixels, more than 0"},

		// HyperText spans.
		{"hypertext start not an XPath", answered(hyper(`{"start":3,"end":"/p[1]","startOffset":0,"endOffset":2,"hypertextlabels":["Brand"]}`)), "", "result[1]: value.start must be the XPath of the span's start node"},
		{"hypertext negative offset", answered(hyper(`{"start":"/p[1]","end":"/p[1]","startOffset":-1,"endOffset":2,"hypertextlabels":["Brand"]}`)), "", "result[1]: value.startOffset and value.endOffset must be 0 or more"},
		{"hypertext global offsets backwards", answered(hyper(`{"start":"/p[1]","end":"/p[1]","startOffset":0,"endOffset":2,"globalOffsets":{"start":4,"end":2},"hypertextlabels":["Brand"]}`)), "", "result[1]: value.globalOffsets: start (4) must be 0 or more and less than end (2)"},

		// TextArea and Rating.
		{"textarea text a string", answered(`{"from_name":"summary","to_name":"text","type":"textarea","value":{"text":"one"}}`), "", "result[1]: value.text must be a list of strings"},
		{"textarea text empty", answered(`{"from_name":"summary","to_name":"text","type":"textarea","value":{"text":[]}}`), "", "result[1]: value.text is empty"},
		{"rating zero", answered(`{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":0}}`), "", "result[1]: value.rating 0 is not from 1 to 4 (maxRating)"},
		{"rating above maxRating", answered(`{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":5}}`), "", "value.rating 5 is not from 1 to 4"},
		{"rating not whole", answered(`{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":2.5}}`), "", "result[1]: value.rating must be a whole number, not 2.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var data json.RawMessage
			switch c.data {
			case "":
				data = json.RawMessage(resultData)
			case "-":
			default:
				data = json.RawMessage(c.data)
			}
			err := cfg.ValidateResult(json.RawMessage(c.result), data)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
			case err == nil:
				t.Fatalf("accepted, want an error containing %q", c.want)
			case glossa.ErrorCode(err) != glossa.EINVALID:
				t.Fatalf("error %v has code %q, want invalid", err, glossa.ErrorCode(err))
			case !strings.Contains(glossa.ErrorMessage(err), c.want):
				t.Fatalf("message:\n%s\nwant it to contain:\n%s", glossa.ErrorMessage(err), c.want)
			}
		})
	}
}

func TestConfigValidateResultReportsEveryProblem(t *testing.T) {
	cfg := MustParseConfig(t, resultConfig)
	err := cfg.ValidateResult(json.RawMessage(`[
		{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":["Music"]}},
		{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":9}}
	]`), json.RawMessage(resultData))
	const want = "result has 3 problems:\n" +
		`result[0]: value.choices has "Music", which control "topics" does not list; it lists: Sport, Politics` + "\n" +
		"result[1]: value.rating 9 is not from 1 to 4 (maxRating)\n" +
		`the required control "sentiment" (<Choices>) has no answer`
	if diff := cmp.Diff(want, glossa.ErrorMessage(err)); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// A problem found while decoding (result[2]) is still listed after an
// earlier item's (result[0]).
func TestConfigValidateResultOrdersProblems(t *testing.T) {
	cfg := MustParseConfig(t, resultConfig)
	err := cfg.ValidateResult(json.RawMessage(`[
		{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Meh"]}},
		{"from_name":"topics","to_name":"text","type":"choices","value":{"choices":["Sport"]}},
		{"from_name":"summary","to_name":"text","type":"textarea","original_height":"tall","value":{"text":["x"]}}
	]`), nil)
	msg := glossa.ErrorMessage(err)
	if i, j := strings.Index(msg, "result[0]"), strings.Index(msg, "result[2]"); i < 0 || j < 0 || i > j {
		t.Errorf("problems out of order:\n%s", msg)
	}
}

// Results as Label Studio writes them validate against its templates.
func TestTemplatesAcceptLabelStudioResults(t *testing.T) {
	cases := []struct{ template, result, data string }{
		{"templates/text-classification.xml",
			`[{"id":"aB3xq","from_name":"sentiment","to_name":"text","type":"choices","origin":"manual","value":{"choices":["Positive"]}}]`,
			`{"text":"This is a great 3D movie that delivers everything almost right in your face."}`},
		{"templates/named-entity-recognition.xml",
			`[{"id":"BtfOIVC3G2","from_name":"label","to_name":"text","type":"labels","origin":"manual","value":{"start":0,"end":5,"text":"Berta","labels":["PER"]}},
			  {"id":"5n2MsvFQur","from_name":"label","to_name":"text","type":"labels","origin":"manual","value":{"start":15,"end":21,"text":"Berlin","labels":["LOC"]}}]`,
			`{"ner":"Berta lives in Berlin."}`},
		{"templates/object-detection-with-bounding-boxes.xml",
			`[{"id":"Dx_aB91ISN","from_name":"label","to_name":"image","type":"rectanglelabels","origin":"manual","image_rotation":0,"original_width":2242,"original_height":2802,
			   "value":{"x":50.8,"y":5.869797225186766,"width":12.4,"height":10.458911419423693,"rotation":0,"rectanglelabels":["Car"]}}]`,
			`{"image":"s3://bucket/1.jpg"}`},
	}
	for _, c := range cases {
		cfg := MustParseConfig(t, MustReadFile(t, c.template))
		if err := cfg.ValidateResult(json.RawMessage(c.result), json.RawMessage(c.data)); err != nil {
			t.Errorf("%s: %v", c.template, err)
		}
		// Nothing is required in these templates, so an empty result is
		// valid, as Label Studio lets an annotator submit one.
		if err := cfg.ValidateResult(json.RawMessage(`[]`), json.RawMessage(c.data)); err != nil {
			t.Errorf("%s: empty result: %v", c.template, err)
		}
	}
}

func TestUsedLabels(t *testing.T) {
	got := labeling.UsedLabels(
		json.RawMessage(`[{"from_name":"ner","type":"labels","value":{"start":0,"end":1,"labels":["PER"]}},
		                  {"from_name":"sentiment","type":"choices","value":{"choices":["Positive"]}},
		                  {"from_name":"note","type":"textarea","value":{"text":["Positive"]}}]`),
		json.RawMessage(`[{"from_name":"ner","type":"labels","value":{"labels":["ORG","PER"]}},
		                  {"from_name":"box","type":"rectanglelabels","value":{"rectanglelabels":["Car"]}}]`),
		json.RawMessage(`not json`),
	)
	want := map[string][]string{
		"ner":       {"ORG", "PER"},
		"sentiment": {"Positive"},
		"note":      {},
		"box":       {"Car"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UsedLabels (-want +got):\n%s", diff)
	}
}

func TestOrphanedLabels(t *testing.T) {
	ner := MustParseConfig(t, MustReadFile(t, "templates/named-entity-recognition.xml"))
	cases := []struct {
		name      string
		old       *labeling.Config // nil: unknown
		newConfig string
		used      map[string][]string
		want      []string
	}{
		{"a label added", ner, `<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/><Label value="MISC"/><Label value="DATE"/></Labels><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"MISC", "PER"}}, nil},
		{"an unused label removed", ner, `<View><Labels name="label" toName="text"><Label value="PER"/></Labels><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"PER"}}, nil},
		{"a used label removed", ner, `<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"MISC", "PER"}}, []string{"label:MISC"}},
		{"the control renamed", ner, `<View><Labels name="entity" toName="text"><Label value="PER"/><Label value="MISC"/></Labels><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"MISC", "PER"}}, []string{"label:MISC", "label:PER"}},
		{"the control's tag changed", ner, `<View><Choices name="label" toName="text"><Choice value="PER"/><Choice value="MISC"/></Choices><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"PER"}}, []string{"label:PER"}},
		{"the tag change unknown without the old config", nil, `<View><Choices name="label" toName="text"><Choice value="PER"/><Choice value="MISC"/></Choices><Text name="text" value="$ner"/></View>`,
			map[string][]string{"label": {"PER"}}, nil},
		{"the control's object changed", ner, `<View><Labels name="label" toName="body"><Label value="PER"/></Labels><Text name="body" value="$ner"/></View>`,
			map[string][]string{"label": {"PER"}}, []string{"label:PER"}},
		{"a used textarea removed", MustParseConfig(t, `<View><Text name="text" value="$t"/><TextArea name="note" toName="text"/></View>`), `<View><Text name="text" value="$t"/></View>`,
			map[string][]string{"note": {}}, []string{"note"}},
		{"nothing used", ner, labeling.DefaultConfig, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := labeling.OrphanedLabels(c.old, MustParseConfig(t, c.newConfig), c.used)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("OrphanedLabels (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzValidateResult checks that no result or data panics and that every
// refusal is a user-facing error.
func FuzzValidateResult(f *testing.F) {
	cfg := MustParseConfig(f, resultConfig)
	f.Add(answered(span(21, 25, `"text":"test","labels":["PER"]`)), resultData)
	f.Add(answered(box(`{"x":50.8,"y":5.8,"width":12.4,"height":10.4,"rectanglelabels":["Car"]}`)), resultData)
	f.Add(answered(hyper(`{"start":"/p[1]","end":"/p[1]","startOffset":0,"endOffset":2,"globalOffsets":{"start":0,"end":2},"hypertextlabels":["Brand"]}`)), "")
	f.Add(`[{"id":"r1","from_name":"note","to_name":"text","type":"textarea","value":{"text":["x"]}}]`, `{"text":"ab"}`)
	f.Fuzz(func(t *testing.T, result, data string) {
		err := cfg.ValidateResult(json.RawMessage(result), json.RawMessage(data))
		if err != nil && (glossa.ErrorCode(err) != glossa.EINVALID || glossa.ErrorMessage(err) == "") {
			t.Fatalf("error %v: want code invalid and a message", err)
		}
	})
}
