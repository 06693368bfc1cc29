package glossa_test

import (
	"testing"

	"github.com/glossa-dev/glossa"
)

func TestExportKey(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		want   string
	}{
		{"", "42"},
		{"exports", "exports/42"},
		{"exports/", "exports/42"},
		{"a/b//", "a/b/42"},
	} {
		if got := glossa.ExportKey(tt.prefix, 42); got != tt.want {
			t.Errorf("ExportKey(%q, 42) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}
