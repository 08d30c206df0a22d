FROM scratch
ADD long-name-splittable.tar /
CMD ["/bin/sh"]
