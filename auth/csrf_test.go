package auth_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

func TestCheckCSRF(t *testing.T) {
	token := auth.NewCSRFToken()
	wrong := auth.NewCSRFToken()

	form := func(v string) url.Values { return url.Values{"csrf_token": {v}, "title": {"x"}} }
	multipartBody := func(v string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("csrf_token", v)
		fw, _ := mw.CreateFormFile("file", "tasks.json")
		fw.Write([]byte(`[{"data":{"text":"hi"}}]`))
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	mpRight, mpType := multipartBody(token)
	mpWrong, mpWrongType := multipartBody(wrong)

	tests := []struct {
		name        string
		method      string
		header      string
		contentType string
		body        string
		session     string
		ok          bool
	}{
		{"GET without token", "GET", "", "", "", token, true},
		{"HEAD without token", "HEAD", "", "", "", token, true},
		{"OPTIONS without token", "OPTIONS", "", "", "", token, true},
		{"POST without token", "POST", "", "", "", token, false},
		{"POST right header", "POST", token, "application/json", `{}`, token, true},
		{"POST wrong header", "POST", wrong, "application/json", `{}`, token, false},
		{"POST header with a prefix of the token", "POST", token[:10], "", "", token, false},
		{"POST header with the token and more", "POST", token + "x", "", "", token, false},
		{"PUT right header", "PUT", token, "", "", token, true},
		{"PATCH wrong header", "PATCH", wrong, "", "", token, false},
		{"DELETE without token", "DELETE", "", "", "", token, false},
		{"DELETE right header", "DELETE", token, "", "", token, true},
		{"form field right", "POST", "", "application/x-www-form-urlencoded", form(token).Encode(), token, true},
		{"form field with charset", "POST", "", "application/x-www-form-urlencoded; charset=utf-8", form(token).Encode(), token, true},
		{"form field wrong", "POST", "", "application/x-www-form-urlencoded", form(wrong).Encode(), token, false},
		{"form field empty", "POST", "", "application/x-www-form-urlencoded", form("").Encode(), token, false},
		{"multipart field right", "POST", "", mpType, mpRight, token, true},
		{"multipart field wrong", "POST", "", mpWrongType, mpWrong, token, false},
		{"field in a JSON body is not read", "POST", "", "application/json", `{"csrf_token":"` + token + `"}`, token, false},
		{"field in the query string is not read", "POST", "", "application/x-www-form-urlencoded", "", token, false},
		{"wrong header wins over right field", "POST", wrong, "application/x-www-form-urlencoded", form(token).Encode(), token, false},
		{"session without token, empty header", "POST", "", "", "", "", false},
		{"session without token, empty field", "POST", "", "application/x-www-form-urlencoded", form("").Encode(), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/projects/1"
			if tt.name == "field in the query string is not read" {
				target += "?csrf_token=" + url.QueryEscape(token)
			}
			r := httptest.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if tt.header != "" {
				r.Header.Set("X-CSRF-Token", tt.header)
			}
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			err := auth.CheckCSRF(r, tt.session)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckCSRF = %v, want nil", err)
				}
				return
			}
			if glossa.ErrorCode(err) != glossa.EFORBIDDEN {
				t.Errorf("CheckCSRF = %v, want EFORBIDDEN", err)
			}
		})
	}
}

// With the token in the header, the body is left for the handler.
func TestCheckCSRFHeaderLeavesBody(t *testing.T) {
	token := auth.NewCSRFToken()
	r := httptest.NewRequest("POST", "/import", strings.NewReader("csrf_token=x&a=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-CSRF-Token", token)
	if err := auth.CheckCSRF(r, token); err != nil {
		t.Fatalf("CheckCSRF = %v", err)
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != "csrf_token=x&a=b" {
		t.Errorf("body after CheckCSRF = %q, want it untouched", b)
	}
}
