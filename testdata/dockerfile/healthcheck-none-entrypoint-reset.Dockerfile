FROM scratch
CMD ["a"]
FROM scratch AS second
ENTRYPOINT ["/bin/app"]
HEALTHCHECK NONE
