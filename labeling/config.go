// Package labeling owns Label Studio's formats: the labeling configuration
// (XML), annotation results, the JSON task import format and the export
// formats (JSON, JSON_MIN, CSV). It does no I/O beyond the readers and
// writers it is handed.
package labeling

// DefaultConfig is the configuration of a project created without one, as
// in Label Studio: an empty view.
const DefaultConfig = "<View></View>"

// maxConfigBytes bounds a labeling configuration.
const maxConfigBytes = 1 << 20
