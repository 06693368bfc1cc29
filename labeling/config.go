// Package labeling owns Label Studio's formats: the labeling configuration
// (XML), annotation results, the JSON task import format and the export
// formats (JSON, JSON_MIN, CSV). It does no I/O beyond the readers and
// writers it is handed.
package labeling

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/glossa-dev/glossa"
)

// DefaultConfig is the configuration of a project created without one, as
// in Label Studio: an empty view.
const DefaultConfig = "<View></View>"

// maxConfigBytes bounds a labeling configuration.
const maxConfigBytes = 1 << 20

// ValidateConfig checks that cfg is a well-formed Label Studio labeling
// configuration: XML whose root element is <View>, without a DOCTYPE (which
// could declare entities). Errors name the line and what is wrong.
func ValidateConfig(cfg string) error {
	if strings.TrimSpace(cfg) == "" {
		return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config is empty: give a configuration such as <View><Text name=\"text\" value=\"$text\"/></View>.")
	}
	if len(cfg) > maxConfigBytes {
		return glossa.Errorf(glossa.ETOOLARGE, "label_config is larger than 1 MiB.")
	}
	dec := xml.NewDecoder(strings.NewReader(cfg))
	depth, roots := 0, 0
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config is not valid XML: line %d: %s.", se.Line, se.Msg)
			}
			return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config is not valid XML near line %d.", line)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config line %d: DOCTYPE and other <!...> declarations are not allowed.", line)
		case xml.StartElement:
			if depth == 0 {
				roots++
				if t.Name.Local != "View" {
					return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config line %d: the root element must be <View>, not <%s>.", line, t.Name.Local)
				}
			}
			depth++
			if depth > 100 {
				return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config line %d: elements are nested more than 100 deep.", line)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config line %d: text outside the <View> element.", line)
			}
		}
	}
	if roots != 1 {
		return glossa.Errorf(glossa.EUNPROCESSABLE, "label_config must have exactly one root <View> element.")
	}
	return nil
}
