// Package ui is promobot's read-only status page: which commit each app
// runs in each environment and how its last apply went, the open promotion
// pull requests and what holds them, and a feed of the bus's recent facts
// and dead letters.
//
// The page is rendered on the server with html/template and works without
// JavaScript; a small embedded script opens an EventSource on /events, and
// the server pushes re-rendered fragments of the page as facts arrive on
// the bus (Server-Sent Events: no polling, no reload). Everything it needs
// is embedded in the binary: no CDN.
//
// It shows only what the bus already holds for every role to read (apply
// records, freezes, the promoter's memory of its pull requests, facts) and
// writes nothing. It has no login of its own: it listens on loopback by
// default, and an operator who wants it elsewhere puts it behind their own
// authenticating proxy.
//
// The look (Layout, Static) is shared with the `promobot setup` page.
package ui
