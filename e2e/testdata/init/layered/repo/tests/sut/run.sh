#!/bin/sh
wget -qO- http://web/
