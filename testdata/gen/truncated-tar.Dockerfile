FROM scratch
ADD truncated-tar.tar /
CMD ["/bin/sh"]
