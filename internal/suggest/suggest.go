// Package suggest finds the known word a misspelt one was probably meant
// to be, for "did you mean" in the errors of every file vmdispatch reads
// (scenarios, the cluster config, driver parameters).
package suggest

import "strings"

// Closest returns the word in words nearest to word, ignoring case, if it
// is near enough to be a likely misspelling (fewer than 3 edits, and
// fewer than half the word's length); otherwise "".
func Closest(word string, words []string) string {
	best, bestD := "", 3
	lw := strings.ToLower(word)
	for _, w := range words {
		if d := Distance(lw, strings.ToLower(w)); d < bestD && d < max(len(word)/2, 1) {
			best, bestD = w, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b. Words longer than
// 64 bytes are not misspellings of keys: they count as all different.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
