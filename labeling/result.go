package labeling

import (
	"encoding/json"

	"github.com/glossa-dev/glossa"
)

// resultItem is one region or answer of an annotation result, Label
// Studio's shape: {"id", "from_name", "to_name", "type", "value": {...}}.
type resultItem struct {
	ID       json.RawMessage `json:"id"`
	FromName *string         `json:"from_name"`
	ToName   *string         `json:"to_name"`
	Type     *string         `json:"type"`
	Value    json.RawMessage `json:"value"`
}

// checkResultShape checks the shape of a result without a configuration:
// a JSON list of objects whose from_name, to_name and type, when present,
// are strings and whose value, when present, is an object. Imports use it
// (they stream tasks without reading the project's configuration) and
// Config.ValidateResult starts with it.
func checkResultShape(raw json.RawMessage) error {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return glossa.Errorf(glossa.EINVALID, "result must be a list of Label Studio result objects, such as [{\"from_name\":\"sentiment\",\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}}].")
	}
	for i, it := range items {
		var item resultItem
		if err := json.Unmarshal(it, &item); err != nil || len(it) == 0 || it[0] != '{' {
			return glossa.Errorf(glossa.EINVALID, "result[%d] must be an object with from_name, to_name, type and value.", i)
		}
		if len(item.Value) > 0 && item.Value[0] != '{' && string(item.Value) != "null" {
			return glossa.Errorf(glossa.EINVALID, "result[%d].value must be an object.", i)
		}
	}
	return nil
}
