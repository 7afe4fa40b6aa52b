package githubapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func urlPathUnescape(s string) (string, error) { return url.PathUnescape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRequestID() string {
	b := randomHex(8)
	return strings.ToUpper(b[:4] + ":" + b[4:8] + ":" + b[8:])
}

// newToken returns an installation token shaped like GitHub's (ghs_ + 36).
func newToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 36)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ghs_" + string(b)
}

// authFailure is set by authenticate when the credentials are present but
// bad; the request is refused unless the route needs no authentication.
type authFailure struct{ message string }

// authenticate reads the Authorization header. It returns the rate-limit
// principal ("" for anonymous).
func (s *Server) authenticate(c *call) string {
	h := c.r.Header.Get("Authorization")
	if h == "" {
		return ""
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	scheme = strings.ToLower(scheme)
	if scheme != "bearer" && scheme != "token" {
		c.authErr = &authFailure{"Bad credentials"}
		return ""
	}
	if strings.Count(cred, ".") == 2 && strings.HasPrefix(cred, "eyJ") {
		if msg := s.verifyJWT(cred); msg != "" {
			c.authErr = &authFailure{msg}
			return ""
		}
		c.app = true
		return "app"
	}
	t := s.tokens[cred]
	if t == nil || now().After(t.expiresAt) {
		c.authErr = &authFailure{"Bad credentials"}
		return ""
	}
	if _, ok := s.installations[t.inst.id]; !ok {
		c.authErr = &authFailure{"Bad credentials"}
		return ""
	}
	c.tok = t
	c.actor = s.bot
	return fmt.Sprintf("installation:%d", t.inst.id)
}

// AppClientID returns the App's client id, as GET /app reports it. An
// App JWT may name the App by it in iss, as by its numeric id.
func (s *Server) AppClientID() string { return fmt.Sprintf("Iv1.%016x", s.opts.AppID) }

// jwtMaxLifetime is how far in the future GitHub accepts an App JWT's exp,
// and jwtClockDrift how far in the future its iat ("Generating a JSON Web
// Token (JWT) for a GitHub App": exp "no more than 10 minutes into the
// future", iat set 60 seconds in the past "to protect against clock
// drift").
const (
	jwtMaxLifetime = 10 * time.Minute
	jwtClockDrift  = 60 * time.Second
)

// verifyJWT checks an App JWT as GitHub does: RS256 with the App's key; iss
// the App's id (a number or a string) or its client id; iat an integer not
// in the future beyond clock drift; exp an integer judged against the
// current time, neither past nor more than 10 minutes ahead. It returns
// GitHub's message on failure.
func (s *Server) verifyJWT(raw string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return "A JSON web token could not be decoded"
	}
	const (
		badIat = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
		badExp = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
		farExp = "'Expiration time' claim ('exp') is too far in the future."
		badIss = "'Issuer' claim ('iss') must be an Integer or a String."
	)
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	if !ok1 || iat != math.Trunc(iat) {
		return badIat
	}
	if !ok2 || exp != math.Trunc(exp) {
		return badExp
	}
	n := time.Now()
	if time.Unix(int64(iat), 0).After(n.Add(jwtClockDrift)) {
		return badIat
	}
	if !time.Unix(int64(exp), 0).After(n) {
		return badExp
	}
	if time.Unix(int64(exp), 0).After(n.Add(jwtMaxLifetime)) {
		return farExp
	}
	switch iss := claims["iss"].(type) {
	case string:
		if iss != strconv.FormatInt(s.opts.AppID, 10) && iss != s.AppClientID() {
			return badIss
		}
	case float64:
		if int64(iss) != s.opts.AppID {
			return badIss
		}
	default:
		return badIss
	}
	return ""
}

// authorize applies the route's authentication and permission rules and
// resolves {owner}/{repo}.
func (s *Server) authorize(c *call) (int, any, bool) {
	rt := c.route
	if rt.auth == authNone {
		return 0, nil, true
	}
	if c.authErr != nil {
		st, body := fail(http.StatusUnauthorized, c.authErr.message)
		return st, body, false
	}
	switch rt.auth {
	case authApp:
		if !c.app {
			st, body := fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
			return st, body, false
		}
		c.actor = s.bot
		return 0, nil, true
	case authAny:
		if c.tok == nil {
			st, body := fail(http.StatusUnauthorized, "Requires authentication")
			return st, body, false
		}
		return 0, nil, true
	case authOrg:
		return s.authorizeOrg(c)
	}
	// authToken: an installation token that can see the repository.
	if c.tok == nil && !c.app {
		st, body := fail(http.StatusUnauthorized, "Requires authentication")
		return st, body, false
	}
	r := s.repoByName(c.param("owner"), c.param("repo"))
	if c.app {
		// An App JWT only reaches App endpoints; GitHub hides repositories
		// from it.
		st, body := fail(http.StatusForbidden, "Resource not accessible by integration")
		return st, body, false
	}
	if r == nil || !c.tok.canSee(r) {
		st, body := notFound()
		return st, body, false
	}
	c.repo = r
	if len(rt.perm.alts) > 0 {
		ok := false
		for _, res := range rt.perm.alts {
			if c.tok.allows(res, rt.perm.level) {
				ok = true
			}
		}
		if !ok {
			st, body := fail(http.StatusForbidden, "Resource not accessible by integration")
			return st, body, false
		}
	}
	return 0, nil, true
}
