# want: 4:10 Duplicate registry block
target { registry = "r.example.com" }
registry "quay.io" {}
registry "quay.io" {}
