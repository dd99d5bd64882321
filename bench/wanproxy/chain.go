package wanproxy

import "sort"

// LongestChain is the length of the longest sequence of exchanges in
// which each one started only after the response of the one before had
// reached the client: requests that waited for one another, one round
// trip after the other. Requests in flight together count once in any
// chain, so for the requests of one image it is the number of round trips
// in a row its copy took, whatever the reason for the wait (a dependency,
// a bound on concurrency, or a tool that simply asks one thing at a time).
func LongestChain(ex []Exchange) int {
	sorted := append([]Exchange(nil), ex...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	chain := make([]int, len(sorted))
	longest := 0
	for i, e := range sorted {
		chain[i] = 1
		for j := range i {
			if !sorted[j].End.After(e.Start) && chain[j]+1 > chain[i] {
				chain[i] = chain[j] + 1
			}
		}
		longest = max(longest, chain[i])
	}
	return longest
}
