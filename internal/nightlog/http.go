package nightlog

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/preview"
)

// Refresh is how often a served page of the current night reloads itself.
const Refresh = 30 * time.Second

// Handler serves the night log: GET / for the current observing night,
// GET /night/CCYYMMDD for any other, and GET /night/CCYYMMDD/NAME for a
// preview file of that night's folder in procDir, and nothing else.
// Headers are cached between pages unless o.Cache says where.
func Handler(o Options, log *slog.Logger) http.Handler {
	if o.Cache == nil {
		o.Cache = &Cache{}
	}
	h := &handler{o: o, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.page(w, r, frame.ObsDate(h.now(), frame.Arizona), "night/")
	})
	mux.HandleFunc("GET /night/{night}", func(w http.ResponseWriter, r *http.Request) {
		night, err := frame.ParseNight(r.PathValue("night"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		h.page(w, r, night, "")
	})
	mux.HandleFunc("GET /night/{night}/{file}", h.preview)
	return mux
}

type handler struct {
	o   Options
	log *slog.Logger
}

func (h *handler) now() time.Time {
	if h.o.Status.Judge.Now != nil {
		return h.o.Status.Judge.Now()
	}
	return time.Now()
}

// page serves a night's page; nights is the path from the page to the
// /night/ folder, so that every link is relative and works behind a
// proxy that moves the whole tree.
func (h *handler) page(w http.ResponseWriter, r *http.Request, night, nights string) {
	p := Build(r.Context(), h.o, night)
	l := Links{Previews: nights + night + "/", Prev: nights + frame.DayBefore(night)}
	if p.Current {
		l.Refresh = int(Refresh / time.Second)
	} else {
		l.Next = nights + frame.DayAfter(night)
	}
	var b bytes.Buffer
	if err := p.Write(&b, l); err != nil {
		h.log.Warn("night log", "night", night, "err", err)
		http.Error(w, "night log: "+err.Error(), http.StatusInternalServerError)
		return
	}
	setHeaders(w, "text/html; charset=utf-8")
	// No script at all, and nothing from elsewhere.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
	w.Write(b.Bytes())
}

// previewName is the name of a preview file: a stored copy's name (a raw
// file's, or a UNIQNAME) with the preview's suffix. Nothing else is served.
var previewName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*\.fits(\.thumb)?\.png$`)

// preview serves a preview file of procDir/<night>/, confined to that
// folder: the name must be a preview's, with no path in it, and it is
// opened through an os.Root of the folder, which no path leads out of.
func (h *handler) preview(w http.ResponseWriter, r *http.Request) {
	night, err := frame.ParseNight(r.PathValue("night"))
	name := r.PathValue("file")
	if err != nil || !previewName.MatchString(name) || !preview.IsPreview(name) {
		http.NotFound(w, r)
		return
	}
	root, err := os.OpenRoot(filepath.Join(h.o.Status.Judge.Layout.ProcDir, night))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	// Previews are written as regular files, never links: a link is
	// refused, and so is a file swapped in between the two looks.
	li, err := root.Lstat(name)
	if err != nil || !li.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	f, err := root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !os.SameFile(li, fi) {
		http.NotFound(w, r)
		return
	}
	setHeaders(w, "image/png")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

func setHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
}
