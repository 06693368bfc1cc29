package labeling_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/labeling"
)

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		name, cfg, wantErr string // wantErr "" means valid
	}{
		{"default", labeling.DefaultConfig, ""},
		{"text classification", `<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single"><Choice value="Positive"/></Choices></View>`, ""},
		{"comments and whitespace", "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<View>\n  <Header value=\"Hi\"/>\n</View>\n", ""},
		{"empty", "  ", "empty"},
		{"not XML", "hello", "outside the <View>"},
		{"unclosed", "<View>\n<Text name=\"t\">\n</View>", "line 3"},
		{"wrong root", "<Text/>", "root element must be <View>"},
		{"two roots", "<View/><View/>", "exactly one root"},
		{"doctype", `<!DOCTYPE View [<!ENTITY x "y">]><View>&x;</View>`, "DOCTYPE"},
		{"text outside", "<View/>junk", "outside"},
		{"too deep", strings.Repeat("<View>", 101) + strings.Repeat("</View>", 101), "100 deep"},
		{"too large", "<View>" + strings.Repeat(" ", 1<<20) + "</View>", "1 MiB"},
	}
	for _, c := range cases {
		err := labeling.ValidateConfig(c.cfg)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(glossa.ErrorMessage(err), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
		}
	}
}

func TestValidateResult(t *testing.T) {
	valid := []string{`[]`, `[{"from_name":"a","to_name":"b","type":"choices","value":{"choices":["x"]}}]`, `[{"id":"r1","value":{}}]`}
	invalid := []string{`null`, `{}`, `"x"`, `[1]`, `[{"value":[1]}]`, `[{"from_name":3}]`, `[[]]`}
	for _, v := range valid {
		if err := labeling.ValidateResult(json.RawMessage(v)); err != nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
	for _, v := range invalid {
		if err := labeling.ValidateResult(json.RawMessage(v)); glossa.ErrorCode(err) != glossa.EINVALID {
			t.Errorf("%s: err = %v, want invalid", v, err)
		}
	}
}

func TestReadTasks(t *testing.T) {
	var got []string
	for task, err := range labeling.ReadTasks(strings.NewReader(` [ {"text": "bare"}, {"data": {"text": "wrapped"}, "predictions": [{"model_version": 3, "score": 0.5, "result": []}]} ] `)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(task.Data))
		if len(task.Predictions) == 1 && task.Predictions[0].ModelVersion != "3" {
			t.Errorf("numeric model_version became %q", task.Predictions[0].ModelVersion)
		}
	}
	if strings.Join(got, "|") != `{"text":"bare"}|{"text":"wrapped"}` {
		t.Fatalf("tasks = %v", got)
	}
	// A single object is one task.
	n := 0
	for _, err := range labeling.ReadTasks(strings.NewReader(`{"data": {"text": "one"}}`)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("single object gave %d tasks", n)
	}
}
