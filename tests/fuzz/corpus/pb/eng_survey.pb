
e-6C6�̰ժ3 b"branch-visit(