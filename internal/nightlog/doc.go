// Package nightlog is the night log: one HTML page per observing night, a
// row per frame with its key headers, the MERGED overscan biases, its state
// as the judge sees it (through internal/status) and its quick-look
// thumbnail; newest first. It reads headers, never pixels, and changes
// nothing. Handler serves it (and the previews, confined to procDir) for
// listen's HTTP address; Page.Write renders it for a file.
package nightlog
