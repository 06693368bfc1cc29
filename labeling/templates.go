package labeling

import (
	"embed"
	"strings"
)

// templateFiles are Label Studio's own template configurations, as it
// ships them (HumanSignal/label-studio, label_studio/annotation_templates,
// Apache License 2.0), so that a project made from one reads exactly as it
// would in Label Studio.
//
//go:embed templates/*.xml
var templateFiles embed.FS

// Template is a labeling configuration a new project can start from.
type Template struct {
	Name   string `json:"name"`  // stable key, the file's name: "text-classification"
	Title  string `json:"title"` // as Label Studio titles it
	Group  string `json:"group"` // Label Studio's template group
	Config string `json:"config"`
}

// Templates lists the templates, in the order a person picks from.
var Templates = func() []Template {
	list := []Template{
		{Name: "text-classification", Title: "Text Classification", Group: "Natural Language Processing"},
		{Name: "named-entity-recognition", Title: "Named Entity Recognition", Group: "Natural Language Processing"},
		{Name: "object-detection-with-bounding-boxes", Title: "Object Detection with Bounding Boxes", Group: "Computer Vision"},
	}
	for i := range list {
		b, err := templateFiles.ReadFile("templates/" + list[i].Name + ".xml")
		if err != nil {
			panic(err) // the files are part of the binary
		}
		list[i].Config = strings.TrimSpace(string(b))
	}
	return list
}()

// FindTemplate returns the template named name, or nil.
func FindTemplate(name string) *Template {
	for i := range Templates {
		if Templates[i].Name == name {
			return &Templates[i]
		}
	}
	return nil
}
