package stsemu

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// readXML parses b as one XML document, refusing what a SAML consumer must
// not process (reference §15 item 3): a DTD (DOCTYPE, ENTITY — the road to
// entity expansion and external entities), anything encoding/xml would not
// read back the same way it wrote it (the namespace tricks behind several
// signature-wrapping attacks on Go SAML libraries; mattermost's validator),
// and trailing content after the root element.
func readXML(b []byte) (*etree.Document, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errors.New("DTDs and entity declarations are not allowed")
		case xml.StartElement:
			seen := map[xml.Name]bool{}
			for _, a := range t.Attr {
				if seen[a.Name] {
					return nil, fmt.Errorf("duplicate attribute %s on <%s>", a.Name.Local, t.Name.Local)
				}
				seen[a.Name] = true
			}
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if roots != 1 {
		return nil, fmt.Errorf("%d root elements, want 1", roots)
	}
	if err := xrv.Validate(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("XML does not round-trip: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, fmt.Errorf("not well-formed XML: %v", err)
	}
	return doc, nil
}

// text is the trimmed text content of el ("" for nil).
func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	var sb strings.Builder
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok {
			sb.WriteString(cd.Data)
		}
	}
	return strings.TrimSpace(sb.String())
}
