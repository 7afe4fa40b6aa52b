package ghevent

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/tidwall/gjson"
)

// Payload is the handful of fields any delivery may carry that promobot
// routes and logs by; everything else stays in the raw bytes, for each
// handler to decode what it needs.
type Payload struct {
	Action string
	Ref    string
	// Number is the payload's top-level number (-1: none).
	Number int64
	Repository
	// PRNumber and IssueNumber are the numbers of the payload's
	// pull_request and issue (-1: none).
	PRNumber, IssueNumber int64
	InstallationID        int64
	// AccountLogin and AccountURL are the installation's account.
	AccountLogin, AccountURL string
	OrgLogin                 string
	Sender                   Sender
	// The installation events' repository lists (full names).
	Repositories, RepositoriesAdded, RepositoriesRemoved []string
}

// Repository is what a payload's repository object says of it.
type Repository struct {
	// Name is the repository's name, FullName owner/name.
	Name, FullName string
	// Owner is the owner's login.
	Owner string
	// URL is the repository's html_url.
	URL string
}

// Sender is the user whose action caused the delivery.
type Sender struct {
	Login string
	ID    int64
}

// Parse validates that body is one JSON object and reads the routing
// fields in a single pass over the top-level keys, descending only into
// the objects that hold them. It uses gjson rather than encoding/json so
// the receiver stays close to the bus's own throughput.
func Parse(body []byte) (Payload, error) {
	p := Payload{Number: -1, PRNumber: -1, IssueNumber: -1}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return p, errors.New("not a JSON object")
	}
	if !gjson.ValidBytes(body) {
		return p, errors.New("invalid JSON")
	}
	gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
		p.read(k.Str, v)
		return true
	})
	return p, nil
}

// read sets the field of one top-level key.
func (p *Payload) read(key string, v gjson.Result) {
	switch key {
	case "action":
		p.Action = v.String()
	case "ref":
		p.Ref = v.String()
	case "number":
		p.Number = number(v)
	case "repository":
		p.Repository = Repository{Name: v.Get("name").String(), FullName: v.Get("full_name").String(),
			Owner: v.Get("owner.login").String(), URL: v.Get("html_url").String()}
	case "pull_request":
		p.PRNumber = number(v.Get("number"))
	case "issue":
		p.IssueNumber = number(v.Get("number"))
	case "installation":
		p.InstallationID = v.Get("id").Int()
		p.AccountLogin, p.AccountURL = v.Get("account.login").String(), v.Get("account.html_url").String()
	case "organization":
		p.OrgLogin = v.Get("login").String()
	case "sender":
		p.Sender = Sender{Login: v.Get("login").String(), ID: v.Get("id").Int()}
	case "repositories":
		p.Repositories = fullNames(v)
	case "repositories_added":
		p.RepositoriesAdded = fullNames(v)
	case "repositories_removed":
		p.RepositoriesRemoved = fullNames(v)
	}
}

// number is v as a number, -1 when it is none.
func number(v gjson.Result) int64 {
	if v.Type != gjson.Number {
		return -1
	}
	return v.Int()
}

func fullNames(v gjson.Result) []string {
	var out []string
	v.ForEach(func(_, item gjson.Result) bool {
		out = append(out, item.Get("full_name").String())
		return true
	})
	return out
}

// Owner is the account the delivery is about: the repository's owner, else
// the installation's account, else the organization.
func (p Payload) Owner() string {
	switch {
	case p.Repository.Owner != "":
		return p.Repository.Owner
	case p.AccountLogin != "":
		return p.AccountLogin
	}
	return p.OrgLogin
}

// Source is the CloudEvent source of the delivery: the repository's URL,
// else the account's, else https://github.com.
func (p Payload) Source() string {
	switch {
	case p.Repository.URL != "":
		return p.Repository.URL
	case p.AccountURL != "":
		return p.AccountURL
	}
	return "https://github.com"
}

// Subject is the CloudEvent subject of the delivery: its ref, else the
// number of its pull request, issue or itself, else "".
func (p Payload) Subject() string {
	switch {
	case p.Ref != "":
		return p.Ref
	case p.PRNumber >= 0:
		return strconv.FormatInt(p.PRNumber, 10)
	case p.IssueNumber >= 0:
		return strconv.FormatInt(p.IssueNumber, 10)
	case p.Number >= 0:
		return strconv.FormatInt(p.Number, 10)
	}
	return ""
}
