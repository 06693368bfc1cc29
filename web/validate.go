package web

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

func idString(id int64) string { return strconv.FormatInt(id, 10) }

// validateTitle checks a required, single-line name.
func validateTitle(field, v string) error {
	switch {
	case v == "":
		return glossa.Errorf(glossa.EINVALID, "%s is required.", field)
	case utf8.RuneCountInString(v) > 200:
		return glossa.Errorf(glossa.EINVALID, "%s must be at most 200 characters.", field)
	case strings.ContainsAny(v, "\r\n\x00"):
		return glossa.Errorf(glossa.EINVALID, "%s must be a single line.", field)
	}
	return nil
}

// optionalTitle trims and checks a title given in an update; nil stays nil.
func optionalTitle(v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t := strings.TrimSpace(*v)
	if err := validateTitle("title", t); err != nil {
		return nil, err
	}
	return &t, nil
}

// validateDescription bounds an optional description.
func validateDescription(v *string) error {
	if v != nil && len(*v) > 10000 {
		return glossa.Errorf(glossa.EINVALID, "description must be at most 10,000 characters.")
	}
	return nil
}

// pageParams reads Label Studio's page (from 1) and page_size (1..1000,
// default 100).
func pageParams(r *http.Request) (page, size int, err error) {
	if page, err = queryInt(r, "page", 1, 1, 1_000_000); err != nil {
		return 0, 0, err
	}
	if size, err = queryInt(r, "page_size", 100, 1, 1000); err != nil {
		return 0, 0, err
	}
	return page, size, nil
}

// parseID parses an ID given in a query parameter or body field.
func parseID(field, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, glossa.Errorf(glossa.EINVALID, "%s must be a numeric ID.", field)
	}
	return id, nil
}
