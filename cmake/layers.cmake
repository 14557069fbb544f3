# The libraries are layers: tools -> control -> dataplane -> codecs -> base.
# Sources include project headers by folder ("dataplane/flow.h"), so a
# target's include root decides what it can include. Each layer gets its
# own root in the build tree holding a link to its folder only, and sees
# the layers beneath through the targets it links: codecs/ cannot include
# dataplane/ or control/, dataplane/ cannot include control/. The include
# lines are checked as well (tests/layering/check_includes.py, in ctest).
#
#   vox_layer_root(TARGET SCOPE FOLDER...)
#     gives TARGET (with SCOPE: PUBLIC, PRIVATE or INTERFACE) an include
#     root with a link to each FOLDER of the source tree.
function(vox_layer_root target scope)
  set(root ${PROJECT_BINARY_DIR}/layers/${target})
  file(MAKE_DIRECTORY ${root})
  foreach(folder ${ARGN})
    if(NOT EXISTS ${root}/${folder})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(${target} ${scope} ${root})
endfunction()
