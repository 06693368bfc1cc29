package web

import "net/http"

// routes lists every route of the server, API and UI, in one place.
//
// Middleware order, outermost first: request ID, observe (log, metrics,
// panic recovery), security headers, cross-origin refusal, authentication
// (token or session, with CSRF for session-authenticated unsafe requests).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	// Operations.
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", s.handleMetrics())

	// Sign-in and the current user.
	mux.Handle("POST /api/auth/login", s.public(s.handleAPILogin))
	mux.Handle("POST /api/auth/logout", s.public(s.handleAPILogout))
	mux.Handle("GET /api/current-user/whoami", s.api(s.handleWhoami))

	// Organizations and members.
	mux.Handle("GET /api/organizations", s.api(s.handleOrganizationList))
	mux.Handle("GET /api/organizations/{id}", s.api(s.handleOrganizationGet))
	mux.Handle("PATCH /api/organizations/{id}", s.api(s.handleOrganizationUpdate))
	mux.Handle("GET /api/organizations/{id}/memberships", s.api(s.handleMembershipList))
	mux.Handle("POST /api/organizations/{id}/memberships", s.api(s.handleMembershipCreate))
	mux.Handle("GET /api/organizations/{id}/memberships/{user_id}", s.api(s.handleMembershipGet))
	mux.Handle("PATCH /api/organizations/{id}/memberships/{user_id}", s.api(s.handleMembershipUpdate))
	mux.Handle("DELETE /api/organizations/{id}/memberships/{user_id}", s.api(s.handleMembershipDelete))

	// Workspaces.
	mux.Handle("GET /api/workspaces", s.api(s.handleWorkspaceList))
	mux.Handle("POST /api/workspaces", s.api(s.handleWorkspaceCreate))
	mux.Handle("GET /api/workspaces/{id}", s.api(s.handleWorkspaceGet))
	mux.Handle("PATCH /api/workspaces/{id}", s.api(s.handleWorkspaceUpdate))
	mux.Handle("DELETE /api/workspaces/{id}", s.api(s.handleWorkspaceDelete))
	mux.Handle("GET /api/workspaces/{id}/memberships", s.api(s.handleWorkspaceMemberList))
	mux.Handle("POST /api/workspaces/{id}/memberships", s.api(s.handleWorkspaceMemberAdd))
	mux.Handle("DELETE /api/workspaces/{id}/memberships", s.api(s.handleWorkspaceMemberRemove))
	mux.Handle("DELETE /api/workspaces/{id}/memberships/{user_id}", s.api(s.handleWorkspaceMemberRemove))

	// Projects.
	mux.Handle("GET /api/projects", s.api(s.handleProjectList))
	mux.Handle("POST /api/projects", s.api(s.handleProjectCreate))
	mux.Handle("GET /api/projects/{id}", s.api(s.handleProjectGet))
	mux.Handle("PATCH /api/projects/{id}", s.api(s.handleProjectUpdate))
	mux.Handle("DELETE /api/projects/{id}", s.api(s.handleProjectDelete))
	mux.Handle("GET /api/projects/{id}/members", s.api(s.handleProjectMemberList))
	mux.Handle("POST /api/projects/{id}/members", s.api(s.handleProjectMemberSet))
	mux.Handle("DELETE /api/projects/{id}/members/{user_id}", s.api(s.handleProjectMemberRemove))
	mux.Handle("POST /api/projects/{id}/import", s.api(s.handleProjectImport))
	mux.Handle("GET /api/projects/{id}/export", s.api(s.handleProjectExport))
	mux.Handle("GET /api/projects/{id}/export/formats", s.api(s.handleExportFormats))
	mux.Handle("GET /api/projects/{id}/next", s.api(s.handleNextTask))
	mux.Handle("GET /api/templates", s.api(s.handleTemplateList))

	// Tasks and annotations.
	mux.Handle("GET /api/tasks", s.api(s.handleTaskList))
	mux.Handle("GET /api/tasks/{id}", s.api(s.handleTaskGet))
	mux.Handle("DELETE /api/tasks/{id}", s.api(s.handleTaskDelete))
	mux.Handle("GET /api/tasks/{id}/annotations", s.api(s.handleAnnotationList))
	mux.Handle("POST /api/tasks/{id}/annotations", s.api(s.handleAnnotationCreate))
	mux.Handle("GET /api/annotations/{id}", s.api(s.handleAnnotationGet))
	mux.Handle("PATCH /api/annotations/{id}", s.api(s.handleAnnotationUpdate))
	mux.Handle("DELETE /api/annotations/{id}", s.api(s.handleAnnotationDelete))

	// Labeling work (api_labeling.go): drafts, reviews and the data
	// manager's actions. A skip is an annotation with was_cancelled=true.
	mux.Handle("GET /api/tasks/{id}/drafts", s.api(s.handleDraftList))
	mux.Handle("POST /api/tasks/{id}/drafts", s.api(s.handleDraftSave))
	mux.Handle("GET /api/tasks/{id}/draft", s.api(s.handleDraftGet))
	mux.Handle("PUT /api/tasks/{id}/draft", s.api(s.handleDraftSave))
	mux.Handle("DELETE /api/tasks/{id}/draft", s.api(s.handleDraftDelete))
	mux.Handle("GET /api/annotations/{id}/reviews", s.api(s.handleReviewList))
	mux.Handle("POST /api/annotations/{id}/reviews", s.api(s.handleReviewCreate))
	mux.Handle("POST /api/dm/actions", s.api(s.handleDMAction))

	// Cloud storages (source: /api/storages/s3, target:
	// /api/storages/export/s3), their sync jobs and task media.
	for _, base := range []string{"/api/storages/s3", "/api/storages/export/s3"} {
		mux.Handle("GET "+base, s.api(s.handleStorageList))
		mux.Handle("POST "+base, s.api(s.handleStorageCreate))
		mux.Handle("POST "+base+"/validate", s.api(s.handleStorageValidate))
		mux.Handle("GET "+base+"/{id}", s.api(s.handleStorageGet))
		mux.Handle("PATCH "+base+"/{id}", s.api(s.handleStorageUpdate))
		mux.Handle("DELETE "+base+"/{id}", s.api(s.handleStorageDelete))
		mux.Handle("POST "+base+"/{id}/sync", s.api(s.handleStorageSync))
	}
	mux.Handle("GET /api/storages/jobs/{id}", s.api(s.handleStorageJobGet))
	mux.Handle("POST /api/storages/jobs/{id}/cancel", s.api(s.handleStorageJobCancel))
	mux.Handle("GET /tasks/{id}/presign", s.page(s.handleTaskMedia))

	// The SAML service provider, per organization.
	mux.Handle("GET /saml/{org}/metadata", s.publicPage(s.handleSAMLMetadata))
	mux.Handle("GET /saml/{org}/login", s.publicPage(s.handleSAMLLogin))
	mux.Handle("GET /saml/{org}/test", s.page(s.handleSAMLTest))
	mux.Handle("POST /saml/{org}/acs", s.publicPage(s.handleSAMLACS))
	mux.Handle("GET /saml/{org}/slo", s.publicPage(s.handleSAMLSLO))
	mux.Handle("POST /saml/{org}/slo", s.publicPage(s.handleSAMLSLO))
	mux.Handle("GET /user/sso", s.publicPage(s.handleUISSOStart))

	// Single sign-on settings.
	mux.Handle("GET /api/saml/settings", s.api(s.handleSSOSettingsGet))
	mux.Handle("POST /api/saml/settings", s.api(s.handleSSOSettingsSave))
	mux.Handle("DELETE /api/saml/settings", s.api(s.handleSSOSettingsDelete))
	mux.Handle("GET /api/saml/keys", s.api(s.handleSPKeyList))
	mux.Handle("POST /api/saml/keys/rotate", s.api(s.handleSPKeyRotate))
	mux.Handle("DELETE /api/saml/keys/{id}", s.api(s.handleSPKeyRetire))

	// API tokens and the audit log.
	mux.Handle("GET /api/tokens", s.api(s.handleTokenList))
	mux.Handle("POST /api/tokens", s.api(s.handleTokenCreate))
	mux.Handle("DELETE /api/tokens/{id}", s.api(s.handleTokenRevoke))
	mux.Handle("GET /api/audit", s.api(s.handleAuditList))

	// Anything else under /api is a JSON 404, not a page.
	mux.Handle("/api/", s.public(func(w http.ResponseWriter, r *http.Request) error {
		return notFoundRoute
	}))

	// Browser pages (ui*.go): HTML, with errors as pages. Forms post with
	// the session's CSRF token; authenticate checks it.
	mux.Handle("GET /static/", s.handleUIStatic())
	mux.Handle("GET /{$}", s.publicPage(s.handleUIHome))
	mux.Handle("GET /user/login", s.publicPage(s.handleUILoginForm))
	mux.Handle("POST /user/login", s.publicPage(s.handleUILoginSubmit))
	mux.Handle("POST /user/logout", s.publicPage(s.handleUILogout))
	mux.Handle("GET /setup", s.publicPage(s.handleUISetupForm))
	mux.Handle("POST /setup", s.publicPage(s.handleUISetupSubmit))
	mux.Handle("GET /projects", s.page(s.handleUIProjectList))
	mux.Handle("POST /projects", s.page(s.handleUIProjectCreate))
	mux.Handle("GET /projects/{id}", s.page(s.handleUIProjectGet))
	mux.Handle("GET /projects/{id}/tasks/{task_id}", s.page(s.handleUITaskGet))
	mux.Handle("POST /projects/{id}/config", s.page(s.handleUIProjectConfig))
	mux.Handle("POST /projects/{id}/tasks/selected", s.page(s.handleUITasksSelected))
	mux.Handle("GET /projects/{id}/label", s.page(s.handleUILabelNext))
	mux.Handle("GET /projects/{id}/label/{task_id}", s.page(s.handleUILabelTask))
	mux.Handle("GET /projects/{id}/storages/new", s.page(s.handleUIStorageNew))
	mux.Handle("POST /projects/{id}/storages/new", s.page(s.handleUIStorageCreate))
	mux.Handle("POST /projects/{id}/storages/{sid}/sync", s.page(s.handleUIStorageSync))
	mux.Handle("POST /projects/{id}/storages/{sid}/cancel", s.page(s.handleUIStorageCancel))
	mux.Handle("GET /workspaces", s.page(s.handleUIWorkspaceList))
	mux.Handle("POST /workspaces", s.page(s.handleUIWorkspaceCreate))
	mux.Handle("GET /organization/members", s.page(s.handleUIMemberList))
	mux.Handle("POST /organization/members", s.page(s.handleUIMemberCreate))
	mux.Handle("POST /organization/members/{user_id}/role", s.page(s.handleUIMemberRoleUpdate))
	mux.Handle("GET /organization/audit", s.page(s.handleUIAuditList))
	mux.Handle("GET /organization/sso", s.page(s.handleUISSOGet))
	mux.Handle("POST /organization/sso", s.page(s.handleUISSOSave))
	mux.Handle("POST /organization/sso/disconnect", s.page(s.handleUISSODisconnect))
	mux.Handle("POST /organization/sso/keys/rotate", s.page(s.handleUISPKeyRotate))
	mux.Handle("POST /organization/sso/keys/retire", s.page(s.handleUISPKeyRetire))
	mux.Handle("GET /tokens", s.page(s.handleUITokenList))
	mux.Handle("POST /tokens", s.page(s.handleUITokenCreate))
	mux.Handle("POST /tokens/{id}/revoke", s.page(s.handleUITokenRevoke))
	// Anything else is a 404 page.
	mux.Handle("/", s.publicPage(s.handleUINotFound))

	return chain(mux, withRequestID, s.observe, s.securityHeaders, s.crossOrigin, s.authenticate)
}
