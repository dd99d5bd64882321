#!/bin/sh
wget -qO- http://localhost/ >/dev/null
