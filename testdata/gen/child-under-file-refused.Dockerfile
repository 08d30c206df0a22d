FROM scratch
ADD child-under-file-refused.tar /
CMD ["/bin/sh"]
