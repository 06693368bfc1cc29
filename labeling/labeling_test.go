package labeling_test

import (
	"strings"
	"testing"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/labeling"
)

// A configuration over 1 MiB is refused as too large, before parsing.
func TestParseConfigTooLarge(t *testing.T) {
	_, err := labeling.ParseConfig("<View>" + strings.Repeat(" ", 1<<20) + "</View>")
	if glossa.ErrorCode(err) != glossa.ETOOLARGE || !strings.Contains(glossa.ErrorMessage(err), "1 MiB") {
		t.Fatalf("err = %v, want too large", err)
	}
}

// Imported annotations and predictions are checked for Label Studio's
// result shape (a list of objects with an object value); the import does
// not read the project's configuration.
func TestReadTasksResultShape(t *testing.T) {
	valid := []string{`[]`, `[{"from_name":"a","to_name":"b","type":"choices","value":{"choices":["x"]}}]`, `[{"id":"r1","value":{}}]`}
	invalid := []string{`null`, `{}`, `"x"`, `[1]`, `[{"value":[1]}]`, `[{"from_name":3}]`, `[[]]`}
	read := func(result string) error {
		for _, err := range labeling.ReadTasks(strings.NewReader(`[{"data": {"text": "x"}, "annotations": [{"result": ` + result + `}], "predictions": [{"result": ` + result + `}]}]`)) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, v := range valid {
		if err := read(v); err != nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
	for _, v := range invalid {
		if err := read(v); glossa.ErrorCode(err) != glossa.EINVALID {
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
