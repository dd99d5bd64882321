# want: 2:21 Variables not allowed
target { registry = var.reg }
