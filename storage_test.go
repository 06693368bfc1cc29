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

func TestStorageListPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"":        "",
		"scans":   "scans/",
		"scans/":  "scans/",
		"a/b//":   "a/b/",
		"/":       "/",
		"2026-01": "2026-01/",
	} {
		if got := (&glossa.Storage{Prefix: prefix}).ListPrefix(); got != want {
			t.Errorf("ListPrefix(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func TestStorageRegion(t *testing.T) {
	for name, want := range map[string]string{"": glossa.DefaultRegion, "  ": glossa.DefaultRegion, "eu-west-1": "eu-west-1", " eu-west-1 ": "eu-west-1"} {
		if got := (&glossa.Storage{RegionName: name}).Region(); got != want {
			t.Errorf("Region(%q) = %q, want %q", name, got, want)
		}
	}
}
