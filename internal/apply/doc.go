// Package apply copies locked images to the target registry: by digest,
// never by tag, with the exact manifest bytes, children before their index,
// blobs before their manifest and the tag last, so that the target never
// holds a tag whose manifest lacks its blobs. Blobs already in the target
// are skipped, blobs in another repository of the target are mounted, and a
// blob shared by images copied in parallel is uploaded once.
//
// An image's manifest tree is pushed (job.pushTree), each blob of it is
// pushed (job.pushBlob), an upload sends the blob's bytes (job.send, one
// try of which is job.transfer). What happens to one blob:
//
//	step      when                                              what
//	found     a repository of the run's target holds it         nothing sent; counted skipped
//	          (recorded this run, or read from the plan's
//	          unchanged images: learnKnown)
//	mount     another repository of the target holds it          POST ?mount=d&from=R: 201, counted mounted
//	upload    the mount POST opens a session (202: refused,      PUT of the bytes from the source into that
//	          or the blob is missing), or the POST failed        session, or one opened by a POST of its own
//	          through its tries (then a session of its own)
//	stream    no repository is known to hold it and the target   the download starts with the POST, not a
//	          likely lacks it (likelyAbsent: a new image, or     round trip after it; dropped if the target
//	          not in the image the tag held)                     has the blob after all
//	refetch   the bytes fail the digest check, or run past or    fetched again from the same source with the
//	          short of the descriptor's size                     retry layer's backoff and budget, then from
//	                                                             the next source (mirrors, then the registry)
//	restart   the transfer broke off on the target's side        a new session, blobRetries times (2)
//	          beyond what the retry layer replays
//
// Requests are retried in one layer, internal/registry's: a request that
// opens an upload session or pushes a manifest is given a longer budget
// there (registry.StepBudget), never run again here.
package apply
