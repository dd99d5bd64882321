# want: 4:13 Cannot read ca_file
target { registry = "r.example.com" }
registry "quay.io" {
  ca_file = "nope.pem"
}
