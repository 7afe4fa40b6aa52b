package githubapi

// buildRoutes lists every route the server answers, by the path template
// GitHub's OpenAPI description uses (the contract test checks each one).
func (s *Server) buildRoutes() []*route {
	s.routes = nil
	s.repoRoutes()
	s.hookConfigRoutes()
	s.conversationRoutes()
	return s.routes
}

// The permission levels the route tables ask for.
const (
	read  = "read"
	write = "write"
)

// needContents asks for the contents permission at level l.
func needContents(l string) perm { return need(l, "contents") }

// repoRoutes are the App's, the repository's and git's routes.
func (s *Server) repoRoutes() {
	// The App (JWT).
	s.handle("GET", "/app", authApp, perm{}, s.getApp)
	s.handle("GET", "/app/installations", authApp, perm{}, s.listInstallations)
	s.handle("GET", "/app/installations/{installation_id}", authApp, perm{}, s.getInstallation)
	s.handle("POST", "/app/installations/{installation_id}/access_tokens", authApp, perm{}, s.createToken)
	s.handle("GET", "/app/hook/deliveries", authApp, perm{}, s.listDeliveries)
	s.handle("GET", "/app/hook/deliveries/{delivery_id}", authApp, perm{}, s.getDelivery)
	s.handle("POST", "/app/hook/deliveries/{delivery_id}/attempts", authApp, perm{}, s.redeliver)
	s.handle("GET", "/repos/{owner}/{repo}/installation", authApp, perm{}, s.repoInstallation)
	s.handle("POST", "/app-manifests/{code}/conversions", authNone, perm{}, s.convertManifest)
	s.handle("GET", "/rate_limit", authNone, perm{}, s.rateLimit)

	// Installation token, no repository in the path.
	s.handle("GET", "/installation/repositories", authAny, perm{}, s.installationRepos)

	// Repository.
	s.handle("GET", "/repos/{owner}/{repo}", authToken, need(read, "metadata"), s.getRepo)
	s.handle("GET", "/repos/{owner}/{repo}/branches", authToken, needContents(read), s.listBranches)
	s.handle("GET", "/repos/{owner}/{repo}/branches/{branch}", authToken, needContents(read), s.getBranch)
	s.handle("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", authToken, need(read, "metadata"), s.collaboratorPermission)

	// Organization: team membership (organization permission members).
	s.handle("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", authOrg, need(read, "members"), s.getTeamMembership)

	// Git data.
	s.handle("GET", "/repos/{owner}/{repo}/git/ref/{ref}", authToken, needContents(read), s.getRef)
	s.handle("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}", authToken, needContents(read), s.matchingRefs)
	s.handle("POST", "/repos/{owner}/{repo}/git/refs", authToken, needContents(write), s.createRef)
	s.handle("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", authToken, needContents(write), s.updateRef)
	s.handle("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", authToken, needContents(write), s.deleteRef)
	s.handle("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}", authToken, needContents(read), s.getGitCommit)
	s.handle("POST", "/repos/{owner}/{repo}/git/commits", authToken, needContents(write), s.createGitCommit)
	s.handle("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", authToken, needContents(read), s.getTree)
	s.handle("POST", "/repos/{owner}/{repo}/git/trees", authToken, needContents(write), s.createTree)
	s.handle("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", authToken, needContents(read), s.getBlob)
	s.handle("POST", "/repos/{owner}/{repo}/git/blobs", authToken, needContents(write), s.createBlob)

	// Contents, commits, compare, archives.
	s.handle("GET", "/repos/{owner}/{repo}/contents/{path}", authToken, needContents(read), s.getContents)
	s.handle("PUT", "/repos/{owner}/{repo}/contents/{path}", authToken, needContents(write), s.putContents)
	s.handle("DELETE", "/repos/{owner}/{repo}/contents/{path}", authToken, needContents(write), s.deleteContents)
	s.handle("GET", "/repos/{owner}/{repo}/compare/{basehead}", authToken, needContents(read), s.compare)
	s.handle("GET", "/repos/{owner}/{repo}/commits/{ref}", authToken, needContents(read), s.getCommit)
	s.handle("GET", "/repos/{owner}/{repo}/tarball/{ref}", authToken, needContents(read), s.tarball)

}

// conversationRoutes are the routes of pull requests, issues, statuses,
// checks and deployments.
func (s *Server) conversationRoutes() {
	// Pull requests.
	pulls := func(l string) perm { return need(l, "pull_requests") }
	s.handle("POST", "/repos/{owner}/{repo}/pulls", authToken, pulls(write), s.createPull)
	s.handle("GET", "/repos/{owner}/{repo}/pulls", authToken, pulls(read), s.listPulls)
	s.handle("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", authToken, pulls(read), s.getPull)
	s.handle("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", authToken, pulls(write), s.updatePull)
	s.handle("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", authToken, needContents(write), s.mergePullAPI)
	s.handle("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", authToken, pulls(read), s.pullMerged)
	s.handle("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", authToken, pulls(read), s.pullFiles)

	// Issues: comments, reactions, labels (pull requests are issues too).
	issues := func(l string) perm { return need(l, "issues", "pull_requests") }
	s.handle("GET", "/repos/{owner}/{repo}/issues/{issue_number}", authToken, issues(read), s.getIssue)
	s.handle("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", authToken, issues(read), s.listComments)
	s.handle("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", authToken, issues(write), s.createComment)
	s.handle("GET", "/repos/{owner}/{repo}/issues/comments", authToken, issues(read), s.listRepoComments)
	s.handle("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", authToken, issues(read), s.getComment)
	s.handle("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", authToken, issues(write), s.updateComment)
	s.handle("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", authToken, issues(write), s.deleteComment)
	s.handle("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", authToken, issues(read), s.listReactions)
	s.handle("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", authToken, issues(write), s.createReaction)
	s.handle("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions/{reaction_id}", authToken, issues(write), s.deleteReaction)
	s.handle("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels", authToken, issues(read), s.listIssueLabels)
	s.handle("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", authToken, issues(write), s.addIssueLabels)
	s.handle("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels", authToken, issues(write), s.setIssueLabels)
	s.handle("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", authToken, issues(write), s.removeIssueLabel)
	s.handle("GET", "/repos/{owner}/{repo}/labels", authToken, issues(read), s.listRepoLabels)
	s.handle("POST", "/repos/{owner}/{repo}/labels", authToken, issues(write), s.createRepoLabel)

	// Statuses, checks, deployments.
	s.handle("POST", "/repos/{owner}/{repo}/statuses/{sha}", authToken, need(write, "statuses"), s.createStatus)
	s.handle("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses", authToken, need(read, "statuses"), s.listStatuses)
	s.handle("GET", "/repos/{owner}/{repo}/commits/{ref}/status", authToken, need(read, "statuses"), s.combinedStatus)
	s.handle("POST", "/repos/{owner}/{repo}/check-runs", authToken, need(write, "checks"), s.createCheckRun)
	s.handle("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", authToken, need(read, "checks"), s.getCheckRun)
	s.handle("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", authToken, need(write, "checks"), s.updateCheckRun)
	s.handle("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", authToken, need(read, "checks"), s.listCheckRuns)
	s.handle("POST", "/repos/{owner}/{repo}/deployments", authToken, need(write, "deployments"), s.createDeployment)
	s.handle("GET", "/repos/{owner}/{repo}/deployments", authToken, need(read, "deployments"), s.listDeployments)
	s.handle("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}", authToken, need(read, "deployments"), s.getDeployment)
	s.handle("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", authToken, need(write, "deployments"), s.createDeploymentStatus)
	s.handle("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", authToken, need(read, "deployments"), s.listDeploymentStatuses)
}

// Routes lists the served routes as "METHOD /openapi/path/template".
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}
