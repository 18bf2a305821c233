package nightlog

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Links say how a rendered page refers to the preview files and to other
// nights.
type Links struct {
	// Previews is the URL of the night's folder of previews, with a
	// trailing slash, relative to the page: a file's name is appended.
	Previews string
	// Embed puts the thumbnails in the page as data: URIs, so that it
	// stands alone (a mail); the full previews are then not linked.
	Embed bool
	// Prev and Next link the nights before and after; "": no link.
	Prev, Next string
	// Refresh reloads the page every so many seconds; 0: never.
	Refresh int
}

//go:embed nightlog.html.tmpl
var pageText string

var pageTmpl = template.Must(template.New("nightlog").Parse(pageText))

// view is what the template sees.
type view struct {
	Page
	Links
	Title    string
	Time     string
	Listen   string
	Channels []string
	Rows     []rowView
}

type rowView struct {
	Row
	Thumb   template.URL // src of the thumbnail; "" none
	Preview string       // href of the preview; "" none
}

// Write renders the page as HTML.
func (p Page) Write(w io.Writer, l Links) error {
	v := view{Page: p, Links: l, Title: "Night log " + nightISO(p.Night), Time: p.Report.Time.UTC().Format("2006-01-02 15:04:05 UTC")}
	v.Listen = listenLine(p)
	for _, c := range p.Report.Channels {
		parts := []string{fmt.Sprintf("%d frames", c.Frames)}
		for _, s := range []struct{ key, label string }{
			{"delivered", "on /newdata"}, {"taken", "taken"}, {"stored", "stored"}, {"pending", "pending"},
			{"failed", "failed"}, {"lost", "lost"}, {"young", "young"}, {"new", "new"}, {"unchecked", "unchecked"}, {"refused", "refused"},
		} {
			if n := c.Count(s.key); n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, s.label))
			}
		}
		v.Channels = append(v.Channels, strings.ToUpper(c.Channel)+": "+strings.Join(parts, ", "))
	}
	for _, r := range p.Rows {
		rv := rowView{Row: r}
		switch {
		case r.Thumb == "":
		case l.Embed:
			b, err := os.ReadFile(r.Thumb)
			if err != nil {
				rv.Note = strings.TrimPrefix(rv.Note+"; ", "; ") + "thumbnail: " + err.Error()
				break
			}
			// Our own PNG, encoded here: safe as an image source.
			rv.Thumb = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
		default:
			rv.Thumb = template.URL(l.Previews + url.PathEscape(filepath.Base(r.Thumb)))
		}
		if r.Preview != "" && !l.Embed {
			rv.Preview = l.Previews + url.PathEscape(filepath.Base(r.Preview))
		}
		v.Rows = append(v.Rows, rv)
	}
	return pageTmpl.Execute(w, v)
}

func listenLine(p Page) string {
	l := p.Report.Listen
	switch {
	case l.Running:
		s := fmt.Sprintf("listen runs (pid %d), %s, queue %d", l.Pid, strings.ToLower(or(l.State, "state unknown")), l.Queue)
		if l.Last != "" {
			s += ", last " + l.Last
		}
		if l.LatencySeconds > 0 {
			s += fmt.Sprintf(", datagram to .new %.2f s", l.LatencySeconds)
		}
		return s
	case l.Stale:
		return fmt.Sprintf("listen is not running (its .pid names pid %d, which is gone)", l.Pid)
	}
	return "listen is not running"
}

// nightISO is CCYYMMDD as CCYY-MM-DD.
func nightISO(night string) string {
	if t, err := time.Parse("20060102", night); err == nil {
		return t.Format("2006-01-02")
	}
	return night
}
