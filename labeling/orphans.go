package labeling

import (
	"encoding/json"
	"slices"
)

// labelTypes are the result types whose value lists option values under a
// key named like the type: {"type": "choices", "value": {"choices": [...]}}.
var labelTypes = []string{"choices", "labels", "hypertextlabels", "rectanglelabels"}

// UsedLabels collects, from annotation results, the option values each
// control has been answered with: control name -> sorted values. A control
// answered without options (TextArea, Rating) appears with no values, so
// that its removal can be noticed too. Results that cannot be read are
// skipped: this summarises, it does not validate.
func UsedLabels(results ...json.RawMessage) map[string][]string {
	used := map[string][]string{}
	AddUsedLabels(used, results...)
	return used
}

// AddUsedLabels adds what UsedLabels collects from results to used (as
// made by UsedLabels or AddUsedLabels), so that annotations can be
// summarised a few at a time; values stay sorted.
func AddUsedLabels(used map[string][]string, results ...json.RawMessage) {
	for _, result := range results {
		var items []struct {
			FromName string                     `json:"from_name"`
			Type     string                     `json:"type"`
			Value    map[string]json.RawMessage `json:"value"`
		}
		if json.Unmarshal(result, &items) != nil {
			continue
		}
		for _, it := range items {
			if it.FromName == "" {
				continue
			}
			values := used[it.FromName]
			if values == nil {
				values = []string{}
			}
			if slices.Contains(labelTypes, it.Type) {
				list, _ := stringList(it.Value[it.Type])
				for _, s := range list {
					if i, found := slices.BinarySearch(values, s); !found {
						values = slices.Insert(values, i, s)
					}
				}
			}
			used[it.FromName] = values
		}
	}
}

// OrphanedLabels returns what existing annotations use (used, as from
// UsedLabels) that the new configuration would leave them pointing at: a
// label or choice that is gone from its control as "control:value", and
// every value of a control that is gone, or whose tag or toName changed
// between old and new (its results would no longer match it), the same
// way; a control used without options (TextArea, Rating) that is gone is
// reported by its name alone. old may be nil, when the change of tag or
// toName cannot be told. The list is sorted; empty means the change is
// safe for existing annotations. Label Studio refuses such a change of a
// project's config, and so should its callers.
func OrphanedLabels(old, new *Config, used map[string][]string) []string {
	var orphans []string
	for name, values := range used {
		ctl := new.Control(name)
		gone := ctl == nil
		if !gone && old != nil {
			if was := old.Control(name); was != nil && (was.Tag != ctl.Tag || was.ToName != ctl.ToName) {
				gone = true
			}
		}
		if gone && len(values) == 0 {
			orphans = append(orphans, name)
			continue
		}
		for _, v := range values {
			if gone || !slices.Contains(ctl.Labels, v) {
				orphans = append(orphans, name+":"+v)
			}
		}
	}
	slices.Sort(orphans)
	return orphans
}
