curl -f http://result
