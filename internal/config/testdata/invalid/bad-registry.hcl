# want: 2:21 Invalid target registry
target { registry = "https://r.example.com" }
