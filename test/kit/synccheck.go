package kit

import (
	"strings"

	"github.com/promobot/promobot/test/githubapi"
)

// syncCheckName is the check run promobot's applier reports each sync on
// (applier.SyncCheckName).
const syncCheckName = "promobot/sync"

// SyncRow is one app's row in a sync check run's table, as a reader sees
// it: the app, its environment, the outcome ("applied", "unchanged",
// "skipped", "failed") and what the last column says.
type SyncRow struct {
	App, Environment, Outcome, Detail string
}

// SyncStatus returns what the newest completed sync check run on sha says
// of app, in the shape of the commit status promobot/<app> it replaces:
// State "success" or "failure", the row's detail as Description. With
// app "" it is the check run itself (a sync that applied nothing: its
// title). ok is false while no completed sync check run lists it.
func SyncStatus(runs []githubapi.CheckRun, app string) (githubapi.Status, bool) {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Name != syncCheckName || r.Status != "completed" {
			continue
		}
		if app == "" {
			return githubapi.Status{Context: "promobot", State: conclusionState(r.Conclusion), Description: r.Title}, true
		}
		for _, row := range SyncRows(r.Text) {
			if row.App != app {
				continue
			}
			state := "success"
			if row.Outcome == "failed" {
				state = "failure"
			}
			return githubapi.Status{Context: "promobot/" + app, State: state, Description: row.Detail}, true
		}
	}
	return githubapi.Status{}, false
}

func conclusionState(c string) string {
	if c == "success" || c == "neutral" || c == "skipped" {
		return "success"
	}
	return "failure"
}

// SyncRows parses the app table of a sync check run's text.
func SyncRows(text string) []SyncRow {
	var rows []SyncRow
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := splitCells(line)
		if len(cells) != 4 {
			continue
		}
		outcome := cells[2]
		if _, word, ok := strings.Cut(outcome, " "); ok {
			outcome = word
		}
		rows = append(rows, SyncRow{App: codeSpan(cells[0]), Environment: codeSpan(cells[1]), Outcome: outcome, Detail: codeSpan(cells[3])})
	}
	return rows
}

// splitCells splits a table row on the pipes that are not escaped.
func splitCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == '|' {
			cur.WriteString(`\|`)
			i++
			continue
		}
		if line[i] == '|' {
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(line[i])
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// codeSpan returns the text of a table cell's code span (markdown.CellCode).
func codeSpan(cell string) string {
	n := len(cell) - len(strings.TrimLeft(cell, "`"))
	if n == 0 || len(cell) < 2*n {
		return cell
	}
	s := cell[n : len(cell)-n]
	if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' {
		s = s[1 : len(s)-1]
	}
	s = strings.ReplaceAll(s, `\|`, "|")
	return strings.ReplaceAll(s, "\uff3c|", `\|`)
}
