package kube

// Names returns the name each object goes by in locators, in the order of
// objs: "Kind/name", or "Kind/namespace/name" when another object of objs
// has the same kind and name (in another namespace). An object that names
// no namespace is in defaultNamespace, as a cluster would put it there.
func Names(objs []Object, defaultNamespace string) []string {
	type kindName struct{ kind, name string }
	count := map[kindName]int{}
	for _, o := range objs {
		count[kindName{o.Kind, o.Name}]++
	}
	out := make([]string, len(objs))
	for i, o := range objs {
		if count[kindName{o.Kind, o.Name}] == 1 {
			out[i] = o.Kind + "/" + o.Name
			continue
		}
		ns := o.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		out[i] = o.Kind + "/" + ns + "/" + o.Name
	}
	return out
}
