# expect: gate
# an exception's traceback frame
# message: '__traceback__'
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
try:
    1 / 0
except Exception as e:
    print(e.__traceback__.tb_frame.f_globals)
