# syntax=docker/dockerfile:1
# escape=`
# check=skip=all
FROM scratch
ENV WINPATH=C:\tools `
    OTHER=x
# comment inside nothing
LABEL a="b `
# a comment inside a continuation
c" `

    d=e
CMD echo `$HOME
