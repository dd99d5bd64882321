package main

// progressBars reports whether apply may draw live progress bars: stdout
// is a terminal, and one that can move the cursor (TERM is not "dumb", as
// in Emacs shells and some CI log viewers). Otherwise apply writes one
// line when an image starts and one when it ends. imagesync draws no
// colour anywhere (the bars neither), so NO_COLOR holds as it is.
func (e *env) progressBars() bool {
	return e.stdoutTTY && e.getenv("TERM") != "dumb"
}
